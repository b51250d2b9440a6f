#!/usr/bin/env bash
# Build the project's image (images/Dockerfile) and the node's pause image with podman,
# without a Docker daemon, and export both as docker-archive tarballs for
# `ctr -n k8s.io images import`:
#   .cache/images/endpoint-loadtest-operator.tar   (localhost/endpoint-loadtest-operator:<appVersion>)
#   .cache/images/pause.tar                        (localhost/pause:<PAUSE_VERSION>)
#   .cache/images/refs.env                         (ELT_IMAGE=..., PAUSE_IMAGE=...)
# The Dockerfile's base is its PYTHON_IMAGE build argument: $PYTHON_IMAGE if set, else the
# Dockerfile's registry default if it can be pulled, else a Debian bookworm base made here
# with mmdebstrap from Debian's packages (python3.11, its venv module, CA certificates).
# The host's CA bundle is given to the build as a secret (for pip behind a TLS-re-signing
# proxy), never stored in the image. Each image is rebuilt only when a content hash of its
# inputs changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HACK="$ROOT/hack"
OUT="$ROOT/.cache/images"
# shellcheck source=versions.env
source "$HACK/versions.env"
cd "$ROOT"

# Our podman settings (runc, cgroupfs, ulimits, overlay store), not the host's /etc.
export CONTAINERS_CONF="$HACK/containers/containers.conf"
export CONTAINERS_STORAGE_CONF="$HACK/containers/storage.conf"

VERSION="${IMAGE_TAG:-$(sed -n 's/^appVersion: "\(.*\)"/\1/p' charts/endpoint-loadtest-operator/Chart.yaml)}"
ELT_IMAGE="localhost/endpoint-loadtest-operator:$VERSION"
PAUSE_IMAGE="localhost/pause:$PAUSE_VERSION"
LOCAL_BASE="localhost/elt-python-base:bookworm"
REGISTRY_BASE="$(sed -n 's/^ARG PYTHON_IMAGE=//p' images/Dockerfile)"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org}"

START=$SECONDS
log() { printf '[image %4ss] %s\n' "$((SECONDS - START))" "$*"; }

# hash_files FILE...: one sha256 over the names and contents of the files.
hash_files() {
	local f
	for f in "$@"; do
		printf '%s\0' "$f"
		sha256sum <"$f"
	done | sha256sum | cut -c1-64
}

# fresh NAME HASH: true when NAME's archive exists and was built from inputs with HASH.
fresh() {
	[[ -s "$OUT/$1.tar" && "$(cat "$OUT/$1.inputs" 2>/dev/null)" == "$2" ]]
}

image_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# drop_old ID REF: remove the image that REF named before a rebuild (kept if still in use).
drop_old() {
	[[ -n "$1" && "$1" != "$(image_id "$2")" ]] || return 0
	podman rmi "$1" >/dev/null 2>&1 || true
}

# save REF NAME: export REF as a docker-archive to $OUT/NAME.tar (atomically).
save() {
	rm -f "$OUT/$2.tar.tmp"
	podman save --quiet --format docker-archive -o "$OUT/$2.tar.tmp" "$1"
	mv "$OUT/$2.tar.tmp" "$OUT/$2.tar"
}

build_pause() {
	local hash
	hash="$(hash_files images/pause/pause.c hack/build-image.sh <(echo "$PAUSE_IMAGE"))"
	if fresh pause "$hash"; then
		log "pause $PAUSE_IMAGE: up to date"
		return
	fi
	log "pause $PAUSE_IMAGE: compiling images/pause/pause.c (static) and importing it FROM scratch"
	local dir
	dir="$(mktemp -d)"
	gcc -static -Os -s -Wall -Wextra -Wno-unused-parameter -DVERSION="\"$PAUSE_VERSION\"" \
		-o "$dir/pause" images/pause/pause.c
	tar -C "$dir" --owner=0 --group=0 --numeric-owner -cf "$dir/rootfs.tar" pause
	local old
	old="$(image_id "$PAUSE_IMAGE")"
	podman import --quiet \
		--change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' \
		--change "LABEL org.opencontainers.image.title=pause" \
		--change "LABEL org.opencontainers.image.version=$PAUSE_VERSION" \
		"$dir/rootfs.tar" "$PAUSE_IMAGE" >/dev/null
	rm -rf "$dir"
	drop_old "$old" "$PAUSE_IMAGE"
	save "$PAUSE_IMAGE" pause
	echo "$hash" >"$OUT/pause.inputs"
	log "pause $PAUSE_IMAGE: done ($(du -h "$OUT/pause.tar" | cut -f1))"
}

# The local base: Debian bookworm (with its updates and security suites), minbase, plus
# python3 (3.11) and python3-venv (the build stage's venv and pip bootstrap); no
# recommends, no documentation but the copyright files, no manuals, no apt lists; merged
# /usr set up by mmdebstrap's hook rather than the usrmerge package (which brings perl).
LOCAL_BASE_PACKAGES=python3,python3-venv,ca-certificates
MMDEBSTRAP_OPTS=(
	--variant=minbase --include="$LOCAL_BASE_PACKAGES"
	--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
	--aptopt='APT::Install-Recommends "false"'
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
	--dpkgopt='path-exclude=/usr/share/locale/*'
)
build_local_base() {
	local hash
	hash="$(echo "${MMDEBSTRAP_OPTS[*]} $DEBIAN_MIRROR" | sha256sum | cut -c1-16)"
	if [[ "$(podman image inspect --format '{{index .Labels "elt.base.inputs"}}' "$LOCAL_BASE" 2>/dev/null)" == "$hash" ]]; then
		log "base $LOCAL_BASE: up to date"
		return
	fi
	log "base $LOCAL_BASE: mmdebstrap of Debian bookworm with $LOCAL_BASE_PACKAGES (about a minute)"
	local dir
	dir="$(mktemp -d)"
	if ! mmdebstrap --quiet "${MMDEBSTRAP_OPTS[@]}" bookworm "$dir/rootfs.tar" \
		"deb $DEBIAN_MIRROR/debian bookworm main" \
		"deb $DEBIAN_MIRROR/debian bookworm-updates main" \
		"deb $DEBIAN_MIRROR/debian-security bookworm-security main" >"$OUT/mmdebstrap.log" 2>&1; then
		tail -n 30 "$OUT/mmdebstrap.log" >&2
		echo "[image] mmdebstrap failed; the whole output is in $OUT/mmdebstrap.log" >&2
		exit 1
	fi
	local old
	old="$(image_id "$LOCAL_BASE")"
	podman import --quiet \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
		--change "LABEL elt.base.inputs=$hash" --change "LABEL org.opencontainers.image.title=elt-python-base" \
		"$dir/rootfs.tar" "$LOCAL_BASE" >/dev/null
	rm -rf "$dir"
	drop_old "$old" "$LOCAL_BASE"
	log "base $LOCAL_BASE: done"
}

# choose_base: print the PYTHON_IMAGE build argument (progress goes to stderr).
choose_base() {
	if [[ -n "${PYTHON_IMAGE:-}" ]]; then
		podman image exists "$PYTHON_IMAGE" || podman pull --quiet "$PYTHON_IMAGE" >/dev/null
		echo "$PYTHON_IMAGE"
	elif podman image exists "$REGISTRY_BASE" ||
		timeout 120 podman pull --quiet "docker.io/library/$REGISTRY_BASE" >/dev/null 2>&1; then
		echo "$REGISTRY_BASE"
	else
		log "base: $REGISTRY_BASE cannot be pulled here; using a local Debian base" >&2
		build_local_base >&2
		echo "$LOCAL_BASE"
	fi
}

build_product() {
	local inputs
	mapfile -t inputs < <(find operator -type f ! -path '*/__pycache__/*' ! -path '*.egg-info/*' | LC_ALL=C sort)
	local hash
	hash="$(hash_files images/Dockerfile .dockerignore pyproject.toml README.md hack/build-image.sh \
		"${inputs[@]}" <(echo "$ELT_IMAGE ${PYTHON_IMAGE:-}"))"
	if fresh endpoint-loadtest-operator "$hash"; then
		log "$ELT_IMAGE: up to date"
		return
	fi
	local base
	base="$(choose_base)"
	local args=(--build-arg "PYTHON_IMAGE=$base" --build-arg "VERSION=$VERSION")
	# The same index as the host's pip (pip's default, PyPI, unless configured otherwise).
	local index extra
	index="${PIP_INDEX_URL:-$(python3 -m pip config get global.index-url 2>/dev/null || true)}"
	extra="${PIP_EXTRA_INDEX_URL:-$(python3 -m pip config get global.extra-index-url 2>/dev/null || true)}"
	[[ -n "$index" ]] && args+=(--build-arg "PIP_INDEX_URL=$index")
	[[ -n "$extra" ]] && args+=(--build-arg "PIP_EXTRA_INDEX_URL=$extra")
	[[ -s "$CA_BUNDLE" ]] && args+=(--secret "id=ca-bundle,src=$CA_BUNDLE")
	log "$ELT_IMAGE: podman build of images/Dockerfile FROM $base (a few minutes from cold)"
	# The whole output goes to build.log; the steps and pip's downloads are shown.
	local rc old
	old="$(image_id "$ELT_IMAGE")"
	set +e
	podman build --network host --layers -f images/Dockerfile "${args[@]}" -t "$ELT_IMAGE" . 2>&1 |
		tee "$OUT/build.log" | grep --line-buffered -E '^(STEP|COMMIT)|^Collecting '
	rc=${PIPESTATUS[0]}
	set -e
	if ((rc != 0)); then
		tail -n 30 "$OUT/build.log" >&2
		echo "[image] podman build failed (exit $rc); the whole output is in $OUT/build.log" >&2
		exit 1
	fi
	drop_old "$old" "$ELT_IMAGE"
	log "$ELT_IMAGE: smoke test (uid 10001, read-only root)"
	podman run --rm --read-only --network none "$ELT_IMAGE" --help >/dev/null
	log "$ELT_IMAGE: podman save --format docker-archive"
	save "$ELT_IMAGE" endpoint-loadtest-operator
	echo "$hash" >"$OUT/endpoint-loadtest-operator.inputs"
	log "$ELT_IMAGE: done ($(du -h "$OUT/endpoint-loadtest-operator.tar" | cut -f1) archive)"
}

bash "$HACK/node-packages.sh"
mkdir -p "$OUT"
build_pause
build_product
cat >"$OUT/refs.env" <<EOF
# Written by hack/build-image.sh (make image): the images in the archives beside this file.
ELT_IMAGE=$ELT_IMAGE
PAUSE_IMAGE=$PAUSE_IMAGE
EOF
log "images in $OUT: $ELT_IMAGE, $PAUSE_IMAGE"

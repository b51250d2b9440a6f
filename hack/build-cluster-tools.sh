#!/usr/bin/env bash
# Build the local test cluster's binaries into bin/ from Go modules only (no release
# downloads): kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet,
# kube-proxy, etcd, helm, containerd (with containerd-shim-runc-v2 and ctr) and coredns;
# first install the Debian packages the node needs (hack/node-packages.sh).
# Idempotent: each tool is rebuilt only when bin/ lacks it or hack/versions.env changed
# its version (recorded in bin/.versions/<tool>).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HACK="$ROOT/hack"
BIN="${BIN:-$ROOT/bin}"
# shellcheck source=versions.env
source "$HACK/versions.env"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
mkdir -p "$BIN/.versions"

START=$SECONDS
log() { printf '[cluster-tools %4ss] %s\n' "$((SECONDS - START))" "$*"; }

# up_to_date TOOL VERSION: true when bin/TOOL exists and was built at VERSION.
up_to_date() {
	[[ -x "$BIN/$1" && "$(cat "$BIN/.versions/$1" 2>/dev/null)" == "$2" ]]
}
mark() { echo "$2" >"$BIN/.versions/$1"; }

# progress LABEL: turn `go build -v` package lines into a line every 100 packages; any
# other line but a download (a compiler error) is shown as it is.
progress() {
	awk -v label="$1" -v start="$(date +%s)" '
		/^go: downloading / { next }
		/[ :]/ { print; fflush(); next }
		{ n++; if (n % 100 == 0) { printf "[cluster-tools] %s: %d packages compiled (%ds)\n", label, n, systime() - start; fflush() } }
		END { printf "[cluster-tools] %s: %d packages compiled\n", label, n }'
}

build_kube() {
	local tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
	local missing=() t
	for t in "${tools[@]}"; do up_to_date "$t" "$KUBE_VERSION" || missing+=("$t"); done
	if ((${#missing[@]} == 0)); then
		log "kubernetes $KUBE_VERSION: up to date"
		return
	fi
	cd "$HACK/kube"
	if [[ "$(cat .kube-version 2>/dev/null)" != "$KUBE_VERSION" || ! -s go.sum ]]; then
		log "kubernetes $KUBE_VERSION: generating the wrapper go.mod from the upstream go.mod"
		python3 "$HACK/gen_kube_module.py" "$KUBE_VERSION" .
		log "kubernetes $KUBE_VERSION: go mod tidy (downloads the modules)"
		go mod tidy
	fi
	log "kubernetes $KUBE_VERSION: go mod download"
	go mod download
	local minor="${KUBE_VERSION#v1.}"
	minor="${minor%%.*}"
	local date
	date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	local ldflags="-s -w"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
	done
	local pkgs=()
	for t in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$t"); done
	log "kubernetes $KUBE_VERSION: building ${missing[*]} (several minutes from a cold cache)"
	go build -v -trimpath -ldflags "$ldflags" -o "$BIN/" "${pkgs[@]}" 2>&1 | progress kubernetes
	for t in "${missing[@]}"; do mark "$t" "$KUBE_VERSION"; done
	log "kubernetes $KUBE_VERSION: done"
}

build_etcd() {
	if up_to_date etcd "$ETCD_VERSION"; then
		log "etcd $ETCD_VERSION: up to date"
		return
	fi
	cd "$HACK/etcd"
	if ! grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" go.mod 2>/dev/null; then
		log "etcd $ETCD_VERSION: writing the wrapper go.mod"
		cat >go.mod <<-GOMOD
			// Wrapper module: the etcd server module has local replace directives, so it cannot be go-installed.
			module elt.local/hack/etcd

			go 1.24

			require go.etcd.io/etcd/server/v3 $ETCD_VERSION
		GOMOD
		rm -f go.sum
		go mod tidy
	fi
	go mod download
	log "etcd $ETCD_VERSION: building"
	go build -v -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3 2>&1 | progress etcd
	mark etcd "$ETCD_VERSION"
	log "etcd $ETCD_VERSION: done"
}

# helm's default Kubernetes version (used by `helm template` and `helm lint` without
# --kube-version, and checked against a chart's kubeVersion) is set at link time, as helm's
# own Makefile does; without it helm says v1.20. Ours is the pinned KUBE_VERSION.
build_helm() {
	local minor="${KUBE_VERSION#v1.}"
	minor="${minor%%.*}"
	local stamp="$HELM_VERSION kube-$KUBE_VERSION"
	if up_to_date helm "$stamp"; then
		log "helm $HELM_VERSION: up to date"
		return
	fi
	local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
	ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
	for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
		ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
	done
	log "helm $HELM_VERSION: go install (default Kubernetes version v1.$minor.0)"
	GOBIN="$BIN" go install -v -trimpath -ldflags "$ldflags" \
		"helm.sh/helm/v3/cmd/helm@$HELM_VERSION" 2>&1 | progress helm
	mark helm "$stamp"
	log "helm $HELM_VERSION: done"
}

# containerd, its runc shim and ctr: Kubernetes 1.36 needs containerd 2 (Debian has 1.6).
# Static (CGO_ENABLED=0), without the btrfs, devmapper and zfs snapshotters (overlayfs is
# the node's); the shim also without gRPC, as containerd's Makefile builds it.
build_containerd() {
	local tools=(containerd containerd-shim-runc-v2 ctr) missing=0 t
	for t in "${tools[@]}"; do up_to_date "$t" "$CONTAINERD_VERSION" || missing=1; done
	if ((missing == 0)); then
		log "containerd $CONTAINERD_VERSION: up to date"
		return
	fi
	cd "$HACK/containerd"
	if ! grep -q "github.com/containerd/containerd/v2 $CONTAINERD_VERSION" go.mod; then
		log "containerd $CONTAINERD_VERSION: go get and go mod tidy (downloads the modules)"
		go get "github.com/containerd/containerd/v2@$CONTAINERD_VERSION"
		go mod tidy
	fi
	log "containerd $CONTAINERD_VERSION: go mod download"
	go mod download
	local pkg=github.com/containerd/containerd/v2
	local ldflags="-s -w -X $pkg/version.Version=$CONTAINERD_VERSION -X $pkg/version.Package=$pkg"
	local tags=no_btrfs,no_devmapper,no_zfs,urfave_cli_no_docs
	log "containerd $CONTAINERD_VERSION: building containerd and ctr (about 1.5 min from a cold cache)"
	go build -v -trimpath -tags "$tags" -ldflags "$ldflags" -o "$BIN/" \
		"$pkg/cmd/containerd" "$pkg/cmd/ctr" 2>&1 | progress containerd
	log "containerd $CONTAINERD_VERSION: building containerd-shim-runc-v2"
	go build -v -trimpath -tags "$tags,no_grpc" -ldflags "$ldflags" -o "$BIN/" \
		"$pkg/cmd/containerd-shim-runc-v2" 2>&1 | progress containerd-shim-runc-v2
	for t in "${tools[@]}"; do mark "$t" "$CONTAINERD_VERSION"; done
	log "containerd $CONTAINERD_VERSION: done"
}

# CoreDNS from hack/coredns/main.go: only the plugins of a cluster DNS. Rebuilt when the
# version or the plugin list (main.go) changes.
build_coredns() {
	cd "$HACK/coredns"
	local stamp
	stamp="$COREDNS_VERSION main.go-$(sha256sum main.go | cut -c1-12)"
	if up_to_date coredns "$stamp"; then
		log "coredns $COREDNS_VERSION: up to date"
		return
	fi
	if ! grep -q "github.com/coredns/coredns $COREDNS_VERSION" go.mod; then
		log "coredns $COREDNS_VERSION: go get and go mod tidy (downloads the modules)"
		go get "github.com/coredns/coredns@$COREDNS_VERSION"
		go mod tidy
	fi
	log "coredns $COREDNS_VERSION: go mod download"
	go mod download
	log "coredns $COREDNS_VERSION: building (about 2 min from a cold cache)"
	go build -v -trimpath -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
		-o "$BIN/coredns" . 2>&1 | progress coredns
	mark coredns "$stamp"
	log "coredns $COREDNS_VERSION: done"
}

case "${1:-all}" in
all) bash "$HACK/node-packages.sh" && build_etcd && build_helm && build_kube && build_containerd && build_coredns ;;
packages) bash "$HACK/node-packages.sh" ;;
kube) build_kube ;;
etcd) build_etcd ;;
helm) build_helm ;;
containerd) build_containerd ;;
coredns) build_coredns ;;
*) echo "usage: $0 [all|packages|kube|etcd|helm|containerd|coredns]" >&2 && exit 2 ;;
esac
log "all tools in $BIN are up to date"

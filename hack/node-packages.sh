#!/usr/bin/env bash
# Install the Debian packages that the test cluster's node and the image build need, when
# missing: the OCI runtime (runc: crun cannot run on hybrid cgroups), the CNI plugins,
# iptables and conntrack for kube-proxy, mmdebstrap for a local Debian base image, podman
# and buildah to build images without a Docker daemon, and a C toolchain for the pause image.
# Runs as root (CI starts on a fresh machine as root); a no-op when everything is there.
set -euo pipefail

PACKAGES=(
	runc                        # the OCI runtime of containerd and podman
	containernetworking-plugins # bridge, host-local, portmap, loopback in /usr/lib/cni
	iptables                    # kube-proxy's and the CNI bridge's rules (nft backend)
	conntrack                   # kube-proxy flushes stale UDP entries (DNS) with it
	mount                       # mount/umount of the node's directories
	mmdebstrap                  # a minimal Debian base image from Debian's packages
	podman                      # builds and saves the images (no Docker daemon here)
	buildah                     # podman build's engine; also usable alone
	uidmap                      # newuidmap/newgidmap, for podman and mmdebstrap
	ca-certificates             # the host's CA bundle, given to image builds as a secret
	gcc                         # the pause image's static C program
	libc6-dev                   # its static libc
)

log() { printf '[node-packages] %s\n' "$*"; }

missing=()
for pkg in "${PACKAGES[@]}"; do
	status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
	[[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
	log "all ${#PACKAGES[@]} Debian packages are installed"
	exit 0
fi
if ((EUID != 0)); then
	echo "[node-packages] missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
apt-get update -qq
log "apt-get install (about a minute on a fresh machine)"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "installed: ${missing[*]}"

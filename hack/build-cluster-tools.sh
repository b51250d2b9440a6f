#!/usr/bin/env bash
# Build the local test cluster's binaries into bin/ from Go modules only (no release
# downloads): kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, helm.
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

# progress LABEL: turn `go build -v` package lines into a line every 100 packages.
progress() {
	awk -v label="$1" -v start="$(date +%s)" '
		{ n++; if (n % 100 == 0) { printf "[cluster-tools] %s: %d packages compiled (%ds)\n", label, n, systime() - start; fflush() } }
		END { printf "[cluster-tools] %s: %d packages compiled\n", label, n }'
}

build_kube() {
	local tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=0
	for t in "${tools[@]}"; do up_to_date "$t" "$KUBE_VERSION" || missing=1; done
	if ((missing == 0)); then
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
	log "kubernetes $KUBE_VERSION: building ${tools[*]} (several minutes from a cold cache)"
	go build -v -trimpath -ldflags "$ldflags" -o "$BIN/" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl 2>&1 | progress kubernetes
	for t in "${tools[@]}"; do mark "$t" "$KUBE_VERSION"; done
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

build_helm() {
	if up_to_date helm "$HELM_VERSION"; then
		log "helm $HELM_VERSION: up to date"
		return
	fi
	log "helm $HELM_VERSION: go install"
	GOBIN="$BIN" go install -v -trimpath \
		-ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
		"helm.sh/helm/v3/cmd/helm@$HELM_VERSION" 2>&1 | progress helm
	mark helm "$HELM_VERSION"
	log "helm $HELM_VERSION: done"
}

case "${1:-all}" in
all) build_etcd && build_helm && build_kube ;;
kube) build_kube ;;
etcd) build_etcd ;;
helm) build_helm ;;
*) echo "usage: $0 [all|kube|etcd|helm]" >&2 && exit 2 ;;
esac
log "all tools in $BIN are up to date"

#!/usr/bin/env bash
# Install Debian's headless-capable Chromium when missing: the report tests
# (tests/report) open report.html in it, screenshot it and read the DOM it rendered.
# Runs as root (CI starts on a fresh machine as root); a no-op when it is there.
set -euo pipefail

log() { printf '[chromium] %s\n' "$*"; }

if command -v chromium >/dev/null 2>&1; then
	log "installed: $(chromium --version 2>/dev/null || echo chromium)"
	exit 0
fi
if ((EUID != 0)); then
	echo "[chromium] missing; run as root or: sudo apt-get install chromium fonts-dejavu-core" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
apt-get update -qq
log "apt-get install chromium (a few minutes on a fresh machine)"
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
log "installed: $(chromium --version 2>/dev/null || echo chromium)"

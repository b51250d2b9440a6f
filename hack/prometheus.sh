#!/bin/sh
# Print the path of a Prometheus server binary, installing Debian's `prometheus` package
# with apt-get when none is on PATH. Used by tests/observability (a real server scrapes
# the exporter). Exit 1 with a message on stderr when it cannot be installed.
set -eu

find_binary() {
  for candidate in "${PROMETHEUS_BIN:-}" "$(command -v prometheus 2>/dev/null || true)" /usr/bin/prometheus; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if find_binary; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "prometheus is not installed and this user cannot run apt-get (not root, no sudo)" >&2
    exit 1
  fi
else
  SUDO=""
fi

export DEBIAN_FRONTEND=noninteractive
# --no-install-recommends: the server alone, not its exporters and web assets.
if ! $SUDO apt-get update -qq >&2 || ! $SUDO apt-get install -y -qq --no-install-recommends prometheus >&2; then
  echo "apt-get could not install the prometheus package" >&2
  exit 1
fi
# The package's service is not wanted: the tests start their own server.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

if find_binary; then
  exit 0
fi
echo "the prometheus package is installed but no prometheus binary was found" >&2
exit 1

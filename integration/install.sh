#!/usr/bin/env bash
# Installs everything the real-peer suites need on a fresh Debian machine (run as root).
# Idempotent and quick when everything is already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

log() { echo "install.sh: $*" >&2; }

# --- Go: the machine's own Go (1.26 or newer, /usr/local/go/bin/go); the Go peers are
# modules with pinned go.mod + go.sum whose dependencies come from the Go module proxy
# when integration/go/build.sh builds them (at the end of this script). Nothing from apt.

# --- Python: the independent OTLP decoder (into the current python3).
py="${PYTHON:-python3}"
has_stubs() {
  "$1" - <<'PY' 2>/dev/null
import grpc, google.protobuf
from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2_grpc  # noqa
import importlib.metadata as m
assert m.version("opentelemetry-proto") == "1.45.2"
PY
}
if has_stubs "$py" || { [ -x "$here/.venv/bin/python" ] && has_stubs "$here/.venv/bin/python"; }; then
  log "pip: all present"
else
  pkgs=("opentelemetry-proto==1.45.2" grpcio protobuf)
  log "pip: installing ${pkgs[*]}"
  if ! "$py" -m pip install -q --disable-pip-version-check "${pkgs[@]}"; then
    # Debian's system python refuses pip outside a venv (PEP 668): use integration/.venv,
    # which the suite's scripts switch to by themselves (python/itvenv.py).
    log "pip: falling back to a venv in integration/.venv"
    "$py" -m venv "$here/.venv" 2>/dev/null || {
      apt-get install -y -qq python3-venv python3-pip >/dev/null
      "$py" -m venv "$here/.venv"
    }
    "$here/.venv/bin/python" -m pip install -q --disable-pip-version-check "${pkgs[@]}"
  fi
fi

# --- Python: pyroscope-io, the Python push SDK (python/push_sdk.py, gateway suite), beside
# the stubs: the current python3, or integration/.venv when that python refuses pip
# (push_sdk.py switches to the venv by itself).
has_pyroscope() {
  "$1" - <<'PY' 2>/dev/null
import pyroscope  # noqa
import importlib.metadata as m
assert m.version("pyroscope-io") == "1.4.0"
PY
}
if has_pyroscope "$py" || { [ -x "$here/.venv/bin/python" ] && has_pyroscope "$here/.venv/bin/python"; }; then
  log "pip: pyroscope-io present"
else
  log "pip: installing pyroscope-io==1.4.0"
  if [ -x "$here/.venv/bin/python" ] && has_stubs "$here/.venv/bin/python" && ! has_stubs "$py"; then
    "$here/.venv/bin/python" -m pip install -q --disable-pip-version-check "pyroscope-io==1.4.0"
  elif ! "$py" -m pip install -q --disable-pip-version-check "pyroscope-io==1.4.0"; then
    log "pip: falling back to a venv in integration/.venv"
    [ -x "$here/.venv/bin/python" ] || "$py" -m venv "$here/.venv" 2>/dev/null || {
      apt-get install -y -qq python3-venv python3-pip >/dev/null
      "$py" -m venv "$here/.venv"
    }
    "$here/.venv/bin/python" -m pip install -q --disable-pip-version-check "pyroscope-io==1.4.0"
  fi
fi

# --- Node itself, when the machine has none (Debian's nodejs + npm).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "apt: installing nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null || log "apt: nodejs/npm unavailable; the Node target will be skipped"
fi

# --- Node: the pull-mode target and the push peer (@pyroscope/nodejs + express), pinned by
# package-lock.json.
if command -v npm >/dev/null 2>&1; then
  if [ -d "$here/node/node_modules/@pyroscope/nodejs" ] && [ -d "$here/node/node_modules/express" ]; then
    log "npm: node_modules present"
  else
    log "npm: installing in integration/node"
    (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error)
  fi
else
  log "npm: node/npm not found; the Node target will be skipped (apt-get install nodejs npm)"
fi

# --- Browser tests of the admin pages (integration/ui): Debian's chromium, driven by
# playwright-core pinned by integration/ui/package-lock.json.
if [ -x /usr/bin/chromium ]; then
  log "apt: chromium present"
else
  log "apt: installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null || log "apt: chromium unavailable; the browser tests will fail (or skip with --allow-missing)"
fi
if command -v npm >/dev/null 2>&1; then
  if [ -d "$here/ui/node_modules/playwright-core" ]; then
    log "npm: integration/ui node_modules present"
  else
    log "npm: installing in integration/ui"
    (cd "$here/ui" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# --- Java: the JDK (17 or newer) and Maven, when the machine has none (Debian's packages), for
# the Java push peer (integration/java: io.pyroscope:agent, pinned in its pom.xml).
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  log "apt: installing openjdk-17-jdk-headless maven"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null || log "apt: java/maven unavailable; the gateway suite will fail its Java checks"
fi
# Build it (target/javapush.jar + target/lib): only when pom.xml or src/ is newer than the jar;
# offline from ~/.m2 when everything is there, else from Maven Central.
if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then
  "$here/java/build.sh" || log "java/build.sh failed; the gateway suite will fail its Java checks"
fi

# --- Build the Go peers (target, pprofbench, otelcol, pushsdk); each only when its sources are
# newer than its binary, so a second run costs nothing.
"$here/go/build.sh"
log "done"

#!/usr/bin/env bash
# Installs what building and testing ncs needs on a Debian machine, or says exactly what is
# missing. Usage: scripts/setup.sh [--python]
#   (no flag)  system libraries for the build: pkg-config libhdf5-dev libasound2-dev libudev-dev
#   --python   also what the tests drive ncs with: the Python clients (requirements-test.txt)
#              into ./.venv, and tmux
set -euo pipefail
cd "$(dirname "$0")/.."

want_python=0
[ "${1:-}" = "--python" ] && want_python=1

packages=(pkg-config libhdf5-dev libasound2-dev libudev-dev)
# The examiner's full-screen view is tested through a real terminal that tmux provides.
[ "$want_python" = 1 ] && packages+=(tmux)
# The system Python needs python3-venv for `python3 -m venv`; a Python that has venv doesn't.
if [ "$want_python" = 1 ] && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    packages+=(python3-venv)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq "${missing[@]}" >&2
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        echo "setup: installing ${missing[*]} with sudo" >&2
        sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        echo "setup: missing Debian packages: ${missing[*]}" >&2
        echo "setup: install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

if ! command -v cargo >/dev/null; then
    echo "setup: cargo is missing: install a Rust toolchain (https://rustup.rs), then run this again" >&2
    exit 1
fi

if [ "$want_python" = 1 ]; then
    if ! command -v python3 >/dev/null; then
        echo "setup: python3 is missing: sudo apt-get install python3 python3-venv" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        echo "setup: creating .venv" >&2
        python3 -m venv .venv
    fi
    if ! .venv/bin/python - <<'PY' 2>/dev/null
import importlib.metadata as md, sys
for line in open("requirements-test.txt"):
    name, _, version = line.strip().partition("==")
    if name and md.version(name) != version:
        sys.exit(1)
PY
    then
        echo "setup: installing the Python test clients into .venv" >&2
        .venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt >&2
    fi
fi

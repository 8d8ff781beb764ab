#!/usr/bin/env bash
# Set Crate up on a fresh Debian/Ubuntu machine: system packages (ffmpeg, libopus, the
# freely licensed music used by the tests), then a virtual environment .venv in this checkout
# with Crate and its test dependencies. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# postgresql: the tests run the store against a real, throwaway PostgreSQL server (tests/postgres_server.py);
# openssl: the fake Discord's voice server makes a throw-away TLS certificate with it (tests/fakediscord/voice.py).
SYSTEM_PACKAGES=(ffmpeg libopus0 libsodium23 python3-venv singularity-music nexuiz-music postgresql openssl)

missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "Installing system packages: ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "Crate needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv"
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# Compile librosa's numba functions into numba's cache now, not in the first analysis (fast once cached).
.venv/bin/python -m bot.listen.warm
# Is this machine ready to run Crate? One line a check (no Discord token needed). A ✗ does not fail
# set-up: the tests that need no such part still run, and tests/test_doctor.py fails for what is broken.
if .venv/bin/crate doctor; then
    echo "Crate is set up in $(pwd)/.venv"
else
    echo "Crate is set up in $(pwd)/.venv, but crate doctor found problems: fix the ✗ lines above before crate run."
fi

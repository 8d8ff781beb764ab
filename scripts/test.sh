#!/usr/bin/env bash
# Run Crate's whole test suite (setting everything up first if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Runs the whole test suite, Label Studio integration tests included (the tests start a real
# server on 127.0.0.1). Installs what it needs first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"

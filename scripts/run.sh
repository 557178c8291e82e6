#!/usr/bin/env bash
# The main job on embedded defaults: the bundled sample articles and annotations, a local Label
# Studio on SQLite (.ls-data, 127.0.0.1:8080, left running so an annotator can log in).
# Installs what it needs first. Extra arguments go to `dataset-builder run` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/dataset-builder run "$@"

#!/usr/bin/env bash
# The main job on embedded defaults: the bundled sample articles, a local Label Studio on SQLite.
# Installs what it needs first. Outputs go to ./out (override with OUT=...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT="${OUT:-out}"
DB=.venv/bin/dataset-builder
"$DB" ingest data/sample_articles -o "$OUT/articles.jsonl"
"$DB" segment "$OUT/articles.jsonl" -o "$OUT/segments.jsonl"
echo "Not yet part of the main job: Label Studio push/pull, normalise, split, build, benchmark (see README: Status)." >&2

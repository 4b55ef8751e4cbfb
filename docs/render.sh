#!/usr/bin/env bash
# Redraws the pictures drawn from text sources in docs/: architecture.svg from architecture.dot.
# (The modfinal timeline plots are drawn by bench/run_all.sh from a run's own data.)
set -euo pipefail
cd "$(dirname "$0")"
dot -Tsvg architecture.dot -o architecture.svg
echo "docs/render.sh: architecture.svg"

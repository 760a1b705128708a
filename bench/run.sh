#!/usr/bin/env bash
# One command for the whole benchmark: quality (int8 ONNX and torch-built indexes, baselines) and
# speed on the dev data, as one Markdown report. The first run builds both dev indexes (~40 min).
# Usage: bash bench/run.sh [DATA_DIR]   (default ../shared/data/realtimeqa-dev); writes bench/results/report.md
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/realtimeqa-dev}"
mkdir -p bench/results
{
  echo "# qa benchmark ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  python bench/quality.py --data "$data" --torch-index bench/.cache/dev-index-torch
  echo
  echo "## Speed and memory"
  echo
  python bench/speed.py --data "$data"
} | tee bench/results/report.md

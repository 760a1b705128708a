#!/usr/bin/env bash
# One command for the whole benchmark: quality and speed on the dev data, as one Markdown report.
# Usage: bash bench/run.sh [DATA_DIR]   (default ../shared/data/realtimeqa-dev); writes bench/results/report.md
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/realtimeqa-dev}"
mkdir -p bench/results
{
  echo "# qa benchmark ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  python bench/quality.py --data "$data"
  echo
  echo "## Speed and memory"
  echo
  python bench/speed.py --data "$data"
} | tee bench/results/report.md

#!/usr/bin/env bash
# Set up (scripts/setup.sh, and Chromium for the browser tests: scripts/setup_browser.sh) and run the whole test suite on CPU, offline, against ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_browser.sh
. .venv/bin/activate
export MLCTL_DATA_DIR=${MLCTL_DATA_DIR:-$(cd .. && pwd)/shared/data}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec python -m pytest -q "$@"

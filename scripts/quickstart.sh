#!/usr/bin/env bash
# The main job on a fresh machine: set up, then walk the zoo with the offline all-MiniLM-L6-v2.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export MLCTL_DATA_DIR=${MLCTL_DATA_DIR:-$(cd .. && pwd)/shared/data}
set -x
mlctl-zoo recipes validate recipes/quickstart.yaml
mlctl-zoo recipes show recipes/quickstart.yaml
mlctl-zoo zoo list
mlctl-zoo zoo verify all-minilm-l6-v2

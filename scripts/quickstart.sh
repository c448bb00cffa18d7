#!/usr/bin/env bash
# The main job on a fresh machine: set up, then train -> register -> bench -> export -> bench again,
# on the offline all-MiniLM-L6-v2, all on CPU. About 10 minutes on 2 idle cores (612 s measured 2026-12-08, all 750 steps in its 12-minute training budget), plus about 3 minutes of installs the first time.
# The zoo used is runs/quickstart/registry.yaml (seeded from the repository's empty registry.yaml), so the
# tracked registry stays clean; set MLCTL_ZOO_REGISTRY to use another.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
if [ -z "${MLCTL_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export MLCTL_DATA_DIR=$(cd ../shared/data && pwd)   # else the recipes' hub datasets are used
fi
export MLCTL_ZOO_REGISTRY=${MLCTL_ZOO_REGISTRY:-runs/quickstart/registry.yaml}
mkdir -p "$(dirname "$MLCTL_ZOO_REGISTRY")"
[ -f "$MLCTL_ZOO_REGISTRY" ] || cp registry.yaml "$MLCTL_ZOO_REGISTRY"
LANGS=deu,fra,spa,ita,por,nld   # trained on de/fr/es; it/pt/nl are never seen in training
set -x
mlctl-zoo recipes validate recipes/quickstart.yaml
# 1. train (<15 min on 2 cores) and register; a finished model is not retrained
mlctl-zoo zoo show quickstart-minilm --json >/dev/null 2>&1 || mlctl-zoo train recipes/quickstart.yaml
# 2. bench the base and the aligned model (Tatoeba top-1, xx->en with en->xx alongside)
mlctl-zoo bench all-minilm-l6-v2 --task tatoeba --langs "$LANGS"
mlctl-zoo bench quickstart-minilm --task tatoeba --langs "$LANGS"
# 3. export to ONNX (int8 for CPU), gated on parity with PyTorch, and bench the export
mlctl-zoo export quickstart-minilm --quantize int8
mlctl-zoo bench quickstart-minilm --task tatoeba --langs "$LANGS" --backend onnx
# 4. the zoo, with lineage, exports and results
mlctl-zoo leaderboard --task tatoeba
mlctl-zoo zoo list

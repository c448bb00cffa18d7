#!/usr/bin/env bash
# The GPU path end to end on one CUDA machine, in under 8 minutes, with the provider each step really used:
#
#   1. export   all-MiniLM-L6-v2 to ONNX with --device cuda --optimize O4 (fp16); the export's parity gate
#               (fp16 vs PyTorch fp32 on 48 multilingual probes) runs on the CUDA provider
#   2. serve    that export with --device cuda; /info must say CUDAExecutionProvider (a session that silently
#               falls back to the CPU is an error in serve itself, and is checked here again); 200 requests
#   3. train    200 steps of recipes/quickstart.yaml in bf16 on the GPU
#   4. bench    Tatoeba on the GPU: the trained checkpoint with PyTorch, and the fp16 export with ONNX Runtime
#
# then prints one table: step, seconds, what it ran on, result. Without a usable GPU it stops within seconds
# and says what is missing. Needs .venv (bash scripts/setup.sh; on a CUDA machine PyPI's torch==2.13.0 is the
# CUDA build and onnxruntime-gpu brings the CUDA provider) and the data folder (MLCTL_DATA_DIR, default
# ../shared/data: tatoeba/ and parallel/ in XTREME's layout).
#
#   bash benchmarks/gpu_check.sh              # run it
#   bash benchmarks/gpu_check.sh --dry-run    # print the steps and commands, run nothing
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
PY=.venv/bin/python
DATA=${MLCTL_DATA_DIR:-$(cd .. && pwd)/shared/data}
WORK=${GPU_CHECK_DIR:-/tmp/mlctl-gpu-check}
REG=$WORK/registry.yaml
MODEL=all-minilm-l6-v2
TRAINED=gpu-check-minilm
PORT=${GPU_CHECK_PORT:-18990}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export MLCTL_DATA_DIR=$DATA

fail() { echo "gpu_check: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
ROWS=()
row() { ROWS+=("$(printf '%-8s %8s  %-28s %s' "$1" "$2" "$3" "$4")"); }
jq_py() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

CMD_EXPORT=(mlctl-zoo export "$MODEL" --registry "$REG" --device cuda --optimize O4 --force --json)
CMD_SERVE=(mlctl-zoo serve "$MODEL" --registry "$REG" --device cuda --export fp16-O4-cuda --no-export-if-missing
           --host 127.0.0.1 --port "$PORT" --log-level warning)
CMD_TRAIN=(mlctl-zoo train recipes/quickstart.yaml --registry "$REG" --data-dir "$DATA" --name "$TRAINED"
           --output "$WORK/$TRAINED" --set training.max_steps=200 --set training.precision=bf16
           --set training.device=cuda --set training.max_minutes=5 --json --no-progress)
CMD_BENCH_TORCH=(mlctl-zoo bench "$TRAINED" --registry "$REG" --task tatoeba --device cuda --backend torch
                 --batch-size 256 --output "$WORK/bench" --force --json)
CMD_BENCH_ONNX=(mlctl-zoo bench "$MODEL" --registry "$REG" --task tatoeba --device cuda --backend onnx
                --batch-size 256 --output "$WORK/bench" --force --json)

if [ "$DRY" = 1 ]; then
  echo "gpu_check --dry-run: scratch folder $WORK, data $DATA"
  echo "  checks: nvidia-smi lists a GPU; torch.cuda.is_available(); onnxruntime offers CUDAExecutionProvider;"
  echo "          a one-node ONNX session on cuda really runs on CUDAExecutionProvider (no silent CPU fallback)"
  for c in CMD_EXPORT CMD_SERVE CMD_TRAIN CMD_BENCH_TORCH CMD_BENCH_ONNX; do
    declare -n cmd=$c
    printf '  %-16s %s\n' "${c#CMD_}" "${cmd[*]}"
  done
  exit 0
fi

# ---- fail fast: a usable GPU, the CUDA provider, the venv and the data (seconds) ------------------------
command -v nvidia-smi >/dev/null 2>&1 || fail "no nvidia-smi: this check needs a CUDA machine (NVIDIA driver and GPU)"
nvidia-smi -L 2>/dev/null | grep -q GPU || fail "nvidia-smi lists no GPU (driver not loaded, or none visible here)"
[ -x "$PY" ] || fail "no .venv: run bash scripts/setup.sh first"
[ -d "$DATA/tatoeba" ] && [ -f "$DATA/parallel/deu-eng.tsv" ] \
  || fail "no data at $DATA (needs tatoeba/ and parallel/): set MLCTL_DATA_DIR"
"$PY" - <<'PY' || fail "the GPU is not usable from this venv (see the line above)"
import sys
import onnxruntime as ort
import torch
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} sees no CUDA device (a CPU build of torch, or CUDA_VISIBLE_DEVICES empty)")
if "CUDAExecutionProvider" not in ort.get_available_providers():
    sys.exit(f"onnxruntime {ort.__version__} offers no CUDAExecutionProvider (install onnxruntime-gpu)")
from mlctl_zoo.errors import ModelError
from mlctl_zoo.models.providers import probe_device
try:
    info = probe_device("cuda")  # refuses a session that silently falls back to the CPU (CUDA/cuDNN libraries)
except ModelError as e:
    sys.exit(str(e))
print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"onnxruntime {ort.__version__} -> {info.provider}")
PY
rm -rf "$WORK"
mkdir -p "$WORK"
cp registry.yaml "$REG"
export PATH="$PWD/.venv/bin:$PATH"
T_ALL=$(now)

# ---- 1. export O4 / fp16 on the CUDA provider, parity-gated -------------------------------------------------
t=$(now)
timeout 240 "${CMD_EXPORT[@]}" > "$WORK/export.json" || fail "export failed (see above)"
provider=$(jq_py "$WORK/export.json" 'd["provider"]')
parity=$(jq_py "$WORK/export.json" '"min cos %.4f, mean cos %.5f, NN %.2f, passed %s" % (d["parity"]["min_cosine"], d["parity"]["mean_cosine"], d["parity"]["nn_agreement"], d["parity"]["passed"])')
[ "$provider" = CUDAExecutionProvider ] || fail "the export's parity session ran on $provider, not CUDAExecutionProvider"
row export "$(elapsed "$t")" "$provider" "fp16 O4: $parity"

# ---- 2. serve it on CUDA: /info's provider, then 200 requests -------------------------------------------
t=$(now)
"${CMD_SERVE[@]}" > "$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
"$PY" - "$PORT" "$SERVER" <<'PY' > "$WORK/serve.json" || { cat "$WORK/serve.log" >&2; fail "serve on CUDA failed"; }
import json, os, sys, time
import httpx
port, pid = sys.argv[1], int(sys.argv[2])
url = f"http://127.0.0.1:{port}"
t0 = time.monotonic()
while True:
    if time.monotonic() - t0 > 120:
        sys.exit("serve was not ready after 120 s")
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("serve exited before it was ready (a silent CPU fallback is refused at start)")
    try:
        if httpx.get(url + "/health", timeout=2).status_code == 200:
            break
    except httpx.HTTPError:
        pass
    time.sleep(0.2)
ready = time.monotonic() - t0
info = httpx.get(url + "/info", timeout=10).json()
if info.get("provider") != "CUDAExecutionProvider" or info.get("device") != "cuda":
    sys.exit(f"serve runs on {info.get('provider')} / {info.get('device')}, not CUDAExecutionProvider")
texts = ["Die Katze schläft auf dem Sofa.", "The cat sleeps on the sofa.", "Où est la gare ?", "¿Dónde está la estación?"]
t1 = time.monotonic()
with httpx.Client(timeout=30) as c:
    for i in range(200):
        r = c.post(url + "/v1/embeddings", json={"input": texts})
        r.raise_for_status()
per_req = (time.monotonic() - t1) / 200
vecs = [d["embedding"] for d in r.json()["data"]]
cos = sum(a * b for a, b in zip(vecs[0], vecs[1]))
print(json.dumps({"provider": info["provider"], "ready_s": round(ready, 1), "ms_per_request": round(1000 * per_req, 1),
                  "dim": len(vecs[0]), "cos_de_en": round(cos, 3)}))
PY
kill "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
trap - EXIT
row serve "$(elapsed "$t")" "$(jq_py "$WORK/serve.json" 'd["provider"]')" \
  "$(jq_py "$WORK/serve.json" '"ready %ss, 200 req x 4 sentences, %s ms/req, dim %s, cos(de,en) %s" % (d["ready_s"], d["ms_per_request"], d["dim"], d["cos_de_en"])')"

# ---- 3. 200 bf16 training steps of the quickstart recipe on the GPU -------------------------------------
t=$(now)
timeout 300 "${CMD_TRAIN[@]}" > "$WORK/train.json" || fail "training on CUDA failed (see above)"
device=$(jq_py "$WORK/train.json" 'd["metrics"]["device"]')
case "$device" in cuda*) ;; *) fail "training ran on $device, not CUDA";; esac
row train "$(elapsed "$t")" "torch $device, $(jq_py "$WORK/train.json" 'd["metrics"]["precision"]')" \
  "$(jq_py "$WORK/train.json" '"%s steps, %s pairs, %.1f pairs/s, loss %s" % (d["metrics"]["steps"], d["metrics"]["pairs"], d["metrics"]["pairs_per_s"], d["metrics"]["final_loss"])')"

# ---- 4. Tatoeba on the GPU: the trained checkpoint (PyTorch) and the fp16 export (ONNX Runtime) --------
t=$(now)
timeout 150 "${CMD_BENCH_TORCH[@]}" > "$WORK/bench_torch.json" || fail "bench (torch, cuda) failed"
row bench "$(elapsed "$t")" "torch cuda" \
  "$TRAINED tatoeba avg $(jq_py "$WORK/bench_torch.json" 'd["results"]["tatoeba"]["average"]')"
t=$(now)
timeout 150 "${CMD_BENCH_ONNX[@]}" > "$WORK/bench_onnx.json" || fail "bench (onnx, cuda) failed"
row bench "$(elapsed "$t")" "CUDAExecutionProvider (fp16)" \
  "$MODEL tatoeba avg $(jq_py "$WORK/bench_onnx.json" 'd["results"]["tatoeba"]["average"]')"

echo
printf '%-8s %8s  %-28s %s\n' step seconds "ran on" result
printf '%s\n' "${ROWS[@]}"
echo "total $(elapsed "$T_ALL") s; files in $WORK"

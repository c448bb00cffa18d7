#!/usr/bin/env bash
# Create ./.venv (Python 3.10+) and install mlctl-zoo with everything its commands need.
# Idempotent: a second run only checks. Versions are pinned by constraints.txt (a set known to install together).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.mlctl-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python -m pip install -q --upgrade pip
  # torch first: the pinned release (a CPU wheel where one is provided); an unpinned torch pulls a multi-GB CUDA build
  python -m pip install -q "torch==2.13.0" ${MLCTL_TORCH_INDEX:+--index-url "$MLCTL_TORCH_INDEX"}
  python -m pip install -q -c constraints.txt -e ".[dev]"
  echo "$want" > "$stamp"
fi


#!/usr/bin/env bash
# The engine sweep: one `plato-sgl engine --model` per server setting, each on a freshly started
# server with nothing else running, appended to engine.jsonl. Run from a clone pinned at a commit:
#   bash benchmarks/engine-cpu/run.sh [OUT_DIR]
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-benchmarks/engine-cpu}"
model="${PLATO_SGL_MODEL:-qwen2.5-coder-0.5b}"
run() {  # run THREADS LABEL [sglang args...]
  local threads="$1" label="$2"; shift 2
  echo "== threads $threads, $label: $*" >&2
  .venv/bin/plato-sgl engine --model "$model" --threads "$threads" --out "$out/engine.jsonl" \
    --label "setting=$label" --label "threads=$threads" -- "$@" || echo "FAILED: $label" >&2
}
run 2 bf16 --dtype bfloat16
run 2 fp32 --dtype float32
run 1 bf16 --dtype bfloat16
run 1 fp32 --dtype float32
run 2 fp16 --dtype float16
run 2 bf16-chunk512 --dtype bfloat16 --chunked-prefill-size 512
run 2 bf16-compile --dtype bfloat16 --enable-torch-compile

#!/usr/bin/env bash
# End-to-end check of candidate server settings: for each, a fresh `plato-sgl serve`, then AR and
# Plato interleaved on the tuning set's first question of each category (fair benchmark), then the
# server is stopped. Run from a clone pinned at a commit:
#   bash benchmarks/engine-cpu/e2e.sh OUT_DIR "THREADS LABEL SGLANG_ARGS..." ...
set -uo pipefail
cd "$(dirname "$0")/../.."
out="$1"; shift
model="${PLATO_SGL_MODEL:-qwen2.5-coder-0.5b}"
port=30555
for candidate in "$@"; do
  read -r threads label args <<< "$candidate"
  echo "== $label: threads $threads, $args" >&2
  .venv/bin/plato-sgl serve --model "$model" --port "$port" --threads "$threads" -- $args > "/tmp/e2e-$label.log" 2>&1 &
  server=$!
  until curl -sf "http://127.0.0.1:$port/health" > /dev/null; do sleep 2; kill -0 "$server" 2>/dev/null || break; done
  .venv/bin/plato-sgl bench --url "http://127.0.0.1:$port" --dataset vicuna80 --per-category 1 --methods ar,plato \
    --out "$out/e2e-$label" --resume || echo "FAILED: $label" >&2
  kill -TERM "$server"; wait "$server"  # TERM: a background job of a script ignores INT
done

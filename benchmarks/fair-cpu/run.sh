#!/usr/bin/env bash
# The fair baseline (issue "Measure what users get", deliverable 5): AR, Plato, auto and SoT
# interleaved question by question on one server with the chosen CPU defaults, each answer in a
# cache namespace of its own; the held-out WizardLM sample first, then the tuning set.
# Resumable: run it again (same arguments) to continue where it stopped. Run from a clone pinned
# at a commit; OUT is where the folders go.
#   bash benchmarks/fair-cpu/run.sh OUT [WIZARDLM_PER_CATEGORY] [VICUNA_PER_CATEGORY]
set -uo pipefail
cd "$(dirname "$0")/../.."
out="$1"; wizard="${2:-3}"; vicuna="${3:-10}"
port=30000
url="http://127.0.0.1:$port"
.venv/bin/plato-sgl serve --model qwen2.5-coder-0.5b --port "$port" > /tmp/fair-server.log 2>&1 &
server=$!
trap 'kill -TERM $server; wait $server' EXIT  # TERM: a background job of a script ignores INT
until curl -sf "$url/health" > /dev/null; do sleep 2; kill -0 "$server" 2>/dev/null || exit 1; done
methods=ar,plato,auto,sot
.venv/bin/plato-sgl bench --url "$url" --dataset wizardlm --per-category "$wizard" --methods "$methods" \
  --out "$out/wizardlm84-fair-cpu" --resume
.venv/bin/plato-sgl bench --url "$url" --dataset vicuna80 --per-category "$vicuna" --methods "$methods" \
  --out "$out/vicuna80-fair-cpu" --resume

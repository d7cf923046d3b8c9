#!/usr/bin/env bash
# The fair baseline (issue "Measure what users get", deliverable 5): AR, Plato, auto and SoT
# interleaved question by question on one server with the chosen CPU defaults, each answer in a
# cache namespace of its own; the held-out WizardLM sample first, then the tuning set. Each folder
# gets the server's engine rates (engine.jsonl) once, before its first question: its report states
# the ceiling they set on Plato's speed-up.
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
run() {  # run DATASET PER_CATEGORY FOLDER: the engine's rates on this server first (once), then the bench
  mkdir -p "$3"
  [[ -s "$3/engine.jsonl" ]] || .venv/bin/plato-sgl engine --url "$url" --out "$3/engine.jsonl"
  .venv/bin/plato-sgl bench --url "$url" --dataset "$1" --per-category "$2" --methods "$methods" --out "$3" --resume
}
run wizardlm "$wizard" "$out/wizardlm84-fair-cpu"
run vicuna80 "$vicuna" "$out/vicuna80-fair-cpu"

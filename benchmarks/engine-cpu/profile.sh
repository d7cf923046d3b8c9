#!/usr/bin/env bash
# Where a decode step's time goes: py-spy samples SGLang's scheduler process while BATCH sequences
# decode together on a running server, and the samples are summed by layer kind.
#   bash benchmarks/engine-cpu/profile.sh URL SCHEDULER_PID BATCH OUT.txt
set -euo pipefail
url="$1"; pid="$2"; batch="$3"; out="$4"
for i in $(seq "$batch"); do
  curl -s "$url/generate" -H 'Content-Type: application/json' \
    -d "{\"text\": \"$RANDOM$RANDOM Write a long story about a lighthouse keeper.\", \"sampling_params\": {\"max_new_tokens\": 400, \"ignore_eos\": true}}" > /dev/null &
done
sleep 3
py-spy record --pid "$pid" --duration 15 --rate 50 --format raw --output "$out.raw" --nonblocking > /dev/null 2>&1
wait
python3 - "$out.raw" > "$out" <<'PY'
import sys, collections
kinds = collections.Counter(); total = 0
for line in open(sys.argv[1]):
    stack, _, count = line.rstrip().rpartition(" ")
    n = int(count); total += n
    frames = stack.split(";")
    if not any("forward" in f for f in frames):
        kinds["not in the model's forward (scheduling, sampling, idle)"] += n; continue
    text = ";".join(frames)
    if "lm_head" in text or "LogitsProcessor" in text or "logits_processor" in text: kinds["LM head (logits)"] += n
    elif "UnquantizedLinearMethod" in text or "linear" in text.lower(): kinds["linear layers"] += n
    elif "attention" in text.lower() or "torch_native" in text: kinds["attention"] += n
    else: kinds["other model code"] += n
for kind, n in kinds.most_common():
    print(f"{kind}: {n / total:.0%}")
PY
cat "$out"

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
import collections, sys
# Each sample is charged to its deepest frame outside torch's own Python code (the SGLang layer
# whose kernels were running), then summed.
own = collections.Counter(); total = 0
for line in open(sys.argv[1]):
    stack, _, count = line.rstrip().rpartition(" ")
    n = int(count); total += n
    frames = [f for f in stack.split(";") if not f.split("(")[-1].startswith(("torch/", "threading", "<"))]
    own[frames[-1] if frames else "elsewhere"] += n
for name, n in own.most_common(14):
    print(f"{n / total:6.1%}  {name}")
PY
cat "$out"

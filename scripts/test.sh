#!/usr/bin/env bash
# Run the test suite against SGLang's real runtime on the CPU (sets the environment up first).
# Arguments go to pytest, e.g. `bash scripts/test.sh -m "not smoke"` or `bash scripts/test.sh -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-cpu.sh
# The page tests drive Debian's headless Chromium through its ChromeDriver, and its Firefox ESR
# over Marionette.
if [[ ! -x /usr/bin/chromedriver || ! -x /usr/bin/firefox-esr ]]; then
  echo "test: installing Debian's chromium, chromium-driver and firefox-esr (once)"
  apt-get update -qq > /dev/null && apt-get install -y -qq chromium chromium-driver firefox-esr > /dev/null
fi
exec .venv/bin/python -m pytest -q "$@"

#!/usr/bin/env bash
# Create (or update) the CPU-ready environment at .venv in this checkout: SGLang's CPU stack from
# requirements-cpu.txt, sglang itself without its GPU-only dependencies, and plato-sgl (editable).
# Idempotent and quick when nothing changed: a stamp keyed on the inputs' hash skips the work.
# pip's output goes to .venv/setup.log; only a one-line status is printed (the log tail on failure).
set -euo pipefail
cd "$(dirname "$0")/.."

SGLANG_VERSION="0.5.23"
TEST_DEPS=(pytest hypothesis ruff==0.17.6 selenium==4.51.0 marionette-driver==3.7.1)
PYTHON="${PYTHON:-python3}"
VENV=".venv"
LOG="$VENV/setup.log"
STAMP="$VENV/.plato-sgl-setup"

inputs_hash() {
  { cat requirements-cpu.txt pyproject.toml setup.py scripts/setup-cpu.sh; "$PYTHON" --version; } 2>&1 \
    | sha256sum | cut -d' ' -f1
}

want="$(inputs_hash)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "setup-cpu: environment up to date ($VENV)"
  exit 0
fi

fail() {
  echo "setup-cpu: FAILED while $1; last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2
  exit 1
}

started=$SECONDS
if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV" || { echo "setup-cpu: could not create $VENV with $PYTHON" >&2; exit 1; }
fi
: > "$LOG"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
step() {  # step DESCRIPTION pip-args...
  local what="$1"; shift
  echo "== $what" >> "$LOG"
  "${pip[@]}" "$@" >> "$LOG" 2>&1 || fail "$what"
}
step "upgrading pip" install --upgrade pip
step "installing the CPU stack (requirements-cpu.txt)" install -r requirements-cpu.txt "${TEST_DEPS[@]}"
# --no-deps: sglang's full dependency set pulls GPU-only wheels that cannot load without libcuda.
step "installing sglang==$SGLANG_VERSION" install --no-deps "sglang==$SGLANG_VERSION"
# --no-deps: plato-sgl's own dependencies (sglang, regex, tqdm) are all installed above.
step "installing plato-sgl (editable)" install --no-deps -e .
echo "$want" > "$STAMP"
echo "setup-cpu: environment ready in $((SECONDS - started)) s ($VENV; log: $LOG)"

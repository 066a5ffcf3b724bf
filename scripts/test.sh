#!/usr/bin/env bash
# Set everything up (including Chromium for the browser tests), run the gate (scripts/gate.sh:
# ruff, mypy, eslint, prettier), then run the whole test suite. Extra arguments go to pytest.
# The PostgreSQL leg runs when OUI_TEST_POSTGRES_URL is set. OUI_GATE=0 skips the gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
if [ "${OUI_GATE:-1}" != "0" ]; then
  bash scripts/gate.sh
fi
echo "oui-jupyter: running the test suite"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"

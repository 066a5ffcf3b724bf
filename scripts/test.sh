#!/usr/bin/env bash
# Set everything up (including Chromium for the browser tests), then run the whole test suite.
# Extra arguments go to pytest. The PostgreSQL leg runs when OUI_TEST_POSTGRES_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"

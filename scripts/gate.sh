#!/usr/bin/env bash
# The gate: lint, format and type checks that must pass before a commit and before the tests.
# Needs the set-up .venv (bash scripts/setup.sh); run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "gate: $*"; }
step "ruff check"
.venv/bin/ruff check .
step "ruff format --check"
.venv/bin/ruff format --check .
step "mypy oui_jupyter/"
.venv/bin/mypy
step "eslint + prettier (labextension/)"
(cd labextension && PATH="$PWD/../.venv/bin:$PATH" npm run --silent lint:check)
step "passed"

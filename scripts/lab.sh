#!/usr/bin/env bash
# Set everything up, then run JupyterLab with oui-jupyter and the embedded SmolLM2 model.
# Extra arguments go to `jupyter lab` (e.g. --port 8890 --no-browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
args=()
if [ "$(id -u)" = "0" ]; then args+=(--allow-root); fi
exec .venv/bin/jupyter lab "${args[@]}" "$@"

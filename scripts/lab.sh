#!/usr/bin/env bash
# Set everything up, then run JupyterLab with oui-jupyter and the embedded SmolLM2 model on
# the example project: notebooks/ (the example notebooks and their data) is the root, so the
# workspace index answers from those files, not from this repository's code and tests.
# Extra arguments go to `jupyter lab` (e.g. --port 8890 --no-browser); a root of your own
# (--ServerApp.root_dir=DIR, --notebook-dir=DIR or a folder argument) replaces notebooks/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
args=()
if [ "$(id -u)" = "0" ]; then args+=(--allow-root); fi
own_root=
for arg in "$@"; do
  case "$arg" in
    --ServerApp.root_dir* | --root-dir* | --notebook-dir* | --NotebookApp.notebook_dir*) own_root=1 ;;
    -*) ;;
    *) if [ -d "$arg" ]; then own_root=1; fi ;;
  esac
done
if [ -z "$own_root" ]; then
  args+=("--ServerApp.root_dir=$(pwd)/notebooks")
  echo "oui-jupyter: serving the example project $(pwd)/notebooks (pass --ServerApp.root_dir=DIR for another)"
fi
exec .venv/bin/jupyter lab "${args[@]}" "$@"

#!/usr/bin/env bash
# Set everything up, then run JupyterLab with oui-jupyter and the embedded SmolLM2 model on
# the example project: your copy of notebooks/ (the example notebooks and their data, made by
# scripts/examples.sh in my-examples/, ignored by git) is the root, so the workspace index
# answers from those files, not from this repository's code and tests, and running and saving
# the notebooks changes your copy, never the tracked files (delete it to start over).
# Extra arguments go to `jupyter lab` (e.g. --port 8890 --no-browser); a root of your own
# (--ServerApp.root_dir=DIR, --notebook-dir=DIR or a folder argument) replaces the copy.
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
  examples="$(bash scripts/examples.sh)"
  args+=("--ServerApp.root_dir=$examples")
  echo "oui-jupyter: serving the example project from $examples, your copy of notebooks/ (git ignores it; delete it to start over; pass --ServerApp.root_dir=DIR for another root)"
fi
exec .venv/bin/jupyter lab "${args[@]}" "$@"

#!/usr/bin/env bash
# Make (or bring up to date) your copy of the example project and print its path: notebooks/
# copied to my-examples/ (ignored by git; $OUI_EXAMPLES_DIR for another place). lab.sh serves
# the copy, so running and saving the notebooks never changes the tracked ones. Files already
# in the copy are kept (your edits and saved outputs); examples new in notebooks/ are added.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${OUI_EXAMPLES_DIR:-$(pwd)/my-examples}"
mkdir -p "$examples"
(cd notebooks && find . -type f ! -path '*/.ipynb_checkpoints/*') | while IFS= read -r file; do
  if [ ! -e "$examples/$file" ]; then
    mkdir -p "$(dirname "$examples/$file")"
    cp -p "notebooks/$file" "$examples/$file"
  fi
done
echo "$examples"

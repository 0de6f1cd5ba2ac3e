"""Build book/<path>.ipynb from its text mirror nbsrc/<path>.md and execute it in place.

Usage: python tools/make_notebook.py nbsrc/core/measuring.md [more.md ...]
The notebook runs with its own folder as working directory, as nbval and Colab run it.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def target_for(md: Path) -> Path:
    rel = md.resolve().relative_to(ROOT / "nbsrc")
    return ROOT / "book" / rel.with_suffix(".ipynb")


def build(md: Path, execute: bool = True) -> float:
    nb = jupytext.read(md)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata.pop("jupytext", None)
    out = target_for(md)
    out.parent.mkdir(parents=True, exist_ok=True)
    t = time.time()
    if execute:
        os.environ.pop("MPLBACKEND", None)  # the kernel must use the inline backend to show figures
        env_path = os.environ.get("PYTHONPATH", "")
        os.environ["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env_path}" if env_path else str(ROOT)
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(out.parent)}}).execute()
    nbformat.write(nb, out)
    return time.time() - t


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not args:
        sys.exit("usage: python tools/make_notebook.py nbsrc/<part>/<page>.md [...] [--no-execute]")
    for a in args:
        dt = build(Path(a), execute="--no-execute" not in sys.argv)
        print(f"{target_for(Path(a)).relative_to(ROOT)}: executed in {dt:.1f} s")

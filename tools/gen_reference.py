"""Write book/appendix/api.md: an autodoc page for every public module of accel_lib.

Run by `make book` before the build, so new technique modules appear without editing anything;
the committed page is checked to be up to date by tests/test_docs.py.
"""
from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TITLES = {"core": "Core: loop, budget, measurement, data, models", "data": "Data-centric",
          "model": "Model-centric", "optim": "Optimization-centric", "budget": "Budgeted training",
          "system": "System-centric", "recipes": "Recipes", "exercises": "Exercise checkers"}


def modules() -> dict:
    import accel_lib
    out: dict = {}
    for m in pkgutil.walk_packages(accel_lib.__path__, "accel_lib."):
        parts = m.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or parts[-1] == "__main__":
            continue
        out.setdefault(parts[1] if len(parts) > 1 else "", []).append(m.name)
    return out


def render() -> str:
    lines = ["# API reference", "",
             "Generated from the docstrings of `accel_lib` by `tools/gen_reference.py`. A technique's",
             "module docstring is its card: what it speeds up, the paper, the PyTorch reference and",
             "the test that checks it, caveats, and the book page.", "",
             "```{eval-rst}", ".. automodule:: accel_lib", "   :no-members:", "", ".. automodule:: accel_lib.catalog",
             "   :members:", "```", ""]
    mods = modules()
    for key in ["core", "data", "model", "optim", "budget", "system", "recipes", "exercises"]:
        names = sorted(n for n in mods.get(key, []) if n != f"accel_lib.{key}")
        if not names and f"accel_lib.{key}" not in mods.get(key, []):
            continue
        lines += [f"## {TITLES[key]}", "", "```{eval-rst}"]
        for n in names:
            lines += [f".. automodule:: {n}", "   :members:", "   :show-inheritance:", ""]
        if not names:
            lines += [f".. automodule:: accel_lib.{key}", ""]
        lines += ["```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    out = ROOT / "book" / "appendix" / "api.md"
    text = render()
    check = "--check" in sys.argv
    if check:
        sys.exit(0 if out.exists() and out.read_text() == text else "book/appendix/api.md is stale: run tools/gen_reference.py")
    out.write_text(text)
    print(f"wrote {out.relative_to(ROOT)}")

"""The dependency rule: core <- {data, model, optim, budget, system} <- recipes.

The five parts import only core (never each other, never recipes); core imports no part."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "accel_lib"
PARTS = ("data", "model", "optim", "budget", "system")


def imported_modules(path: Path) -> set:
    tree = ast.parse(path.read_text())
    pkg = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # resolve relative imports
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                out.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.add(node.module)
    return {m for m in out if m.startswith("accel_lib")}


@pytest.mark.parametrize("part", ("core",) + PARTS)
def test_layering(part):
    allowed = {"accel_lib", "accel_lib.core"} if part != "core" else {"accel_lib"}
    bad = []
    for f in (ROOT / part).rglob("*.py"):
        for m in imported_modules(f):
            top = ".".join(m.split(".")[:2])
            if top != f"accel_lib.{part}" and top not in allowed:
                bad.append(f"{f.relative_to(ROOT.parent)} imports {m}")
    assert not bad, "parts may import only accel_lib.core:\n" + "\n".join(bad)

"""Launch check: every notebook under book/ opens and runs the way a reader launches it.

- The first code cell (after the title) is exactly the Colab cell of CONTRIBUTING.md, which
  installs this repository's `accel-lib` on Colab and nothing else (no other cell installs
  anything either).
- The last code cell prints the provenance footer (`print_provenance()`), and the committed
  notebook is executed (readers on GitHub and Colab see outputs), figures included.
The fresh-environment run (only the library's declared dependencies) is tools/fresh_env_check.sh.
"""
from __future__ import annotations

import json
import re
import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb")
                   if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts)
INSTALL = re.compile(r"^\s*(?:[%!]\s*(?:pip|pip3|conda|mamba|uv|apt|apt-get)\b|.*\bpip\s+install\b)", re.M)
PLOTTING = re.compile(r"\bplt\.|\.plot\(|\bimshow\(|\bplot_[a-z_]+\(")
IMAGE_MIMES = ("image/png", "image/svg+xml", "image/jpeg")


def colab_cell() -> str:
    """The Colab cell as CONTRIBUTING.md prints it (the single source of truth)."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    m = re.search(r"\*\*Colab cell\*\*.*?```python\n(.*?)```", text, re.S)
    assert m, "CONTRIBUTING.md lost its Colab cell (the `**Colab cell**` item with a python block)"
    return textwrap.dedent(m.group(1)).strip()


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def tags(cell: dict) -> set:
    return set(cell.get("metadata", {}).get("tags", []))


def ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


params = pytest.mark.parametrize(
    "path", NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason="no notebook under book/ yet"))],
    ids=ids(NOTEBOOKS) or None)


def test_colab_cell_installs_this_library_only():
    cell = colab_cell()
    installs = [line.strip() for line in cell.splitlines() if INSTALL.search(line)]
    assert len(installs) == 1, f"the Colab cell must install exactly one thing, found {installs}"
    name = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    m = re.search(r'%pip install -q "([^"]+)"', installs[0])
    assert m, f"unexpected install line {installs[0]!r}"
    assert m.group(1) == f"{name} @ git+{url}", (
        f"the Colab cell installs {m.group(1)!r}; expected {name} @ git+{url} (pyproject name and "
        "_config.yml repository url)")
    guard = cell.splitlines()
    assert 'if "google.colab" in sys.modules:' in guard, "the install must only run on Colab"


def test_colab_cell_parsing_rejects_changes():
    """The comparison below is exact: an extra package or a missing guard is a different cell."""
    cell = colab_cell()
    assert cell != cell.replace('"accel-lib', '"accel-lib torchmetrics')
    assert INSTALL.search("!pip install torchmetrics") and INSTALL.search("%pip install x")
    assert INSTALL.search("subprocess.run('pip install x')") and not INSTALL.search("import pip_tools")


def first_code(cells: list) -> int:
    return next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), -1)


@params
def test_first_cell_is_the_colab_cell(path):
    """The first code cell is exactly the Colab cell; only markdown (the title) may precede it,
    so nothing runs on Colab before accel_lib is installed."""
    cells = load(path)["cells"]
    i = first_code(cells)
    assert i >= 0, f"{path.relative_to(ROOT)} has no code cell"
    assert src(cells[i]).strip() == colab_cell(), (
        f"{path.relative_to(ROOT)}: the first code cell must be exactly the Colab cell of CONTRIBUTING.md "
        "(copy it into nbsrc/<part>/<page>.md before any other code cell and rebuild the notebook)")


@params
def test_no_other_cell_installs_anything(path):
    cells = load(path)["cells"]
    i = first_code(cells)
    bad = [k for k, c in enumerate(cells) if k != i and c["cell_type"] == "code" and INSTALL.search(src(c))]
    assert not bad, (f"{path.relative_to(ROOT)}: cells {bad} install packages; only the Colab cell "
                     "may, and only accel-lib (declare what the library needs in pyproject.toml)")


@params
def test_ends_with_provenance_footer(path):
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    assert code and "print_provenance(" in src(code[-1]), (
        f"{path.relative_to(ROOT)}: the last code cell must be `print_provenance()` (accel_lib.core)")
    assert code[-1].get("outputs"), f"{path.relative_to(ROOT)}: the provenance footer has no output"


@params
def test_committed_with_outputs(path):
    cells = load(path)["cells"]
    unrun = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and src(c).strip()
             and c.get("execution_count") is None and "skip-execution" not in tags(c)]
    assert not unrun, (f"{path.relative_to(ROOT)}: cells {unrun} were not executed: build with "
                       "`make nb NB=nbsrc/<part>/<page>.md` and commit the notebook with its outputs")


@params
def test_figures_are_in_the_outputs(path):
    """A page that plots must carry its figures (a kernel started with MPLBACKEND=Agg drops them)."""
    cells = load(path)["cells"]
    plots = [c for c in cells if c["cell_type"] == "code" and PLOTTING.search(src(c))
             and "skip-execution" not in tags(c)]
    if not plots:
        pytest.skip("no plotting cell")
    images = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])
              if set(o.get("data", {})) & set(IMAGE_MIMES)]
    assert images, (f"{path.relative_to(ROOT)}: {len(plots)} cells plot but the notebook holds no image: "
                    "execute it with MPLBACKEND unset (or module://matplotlib_inline.backend_inline)")


@params
def test_every_exercise_has_a_solution(path):
    """Solutions live in the page (collapsed on the website) and so run in CI with the notebook."""
    from tools.gen_index import exercises_of
    missing = [e["label"] or e["title"] for e in exercises_of(path)["exercises"] if not e["solution"]]
    assert not missing, (f"{path.relative_to(ROOT)}: exercises without a solution: {missing} (add a "
                         "`{solution-start} <label>` ... `{solution-end}` block, `:class: dropdown`)")

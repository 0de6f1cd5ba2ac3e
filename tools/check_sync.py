"""Check that every notebook under book/ and its text mirror under nbsrc/ hold the same cells.

Compared: cell types, sources (trailing whitespace ignored) and tags. Outputs are not compared (the
mirror has none). Exit status 1 lists every mismatch and how to fix it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]


def cells(path: Path) -> list:
    nb = jupytext.read(path)
    return [(c.cell_type, c.source.rstrip(), tuple(sorted(c.metadata.get("tags", []))))
            for c in nb.cells]


def main() -> int:
    problems = []
    books = {p.relative_to(ROOT / "book").with_suffix("") for p in (ROOT / "book").rglob("*.ipynb")
             if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts}
    srcs = {p.relative_to(ROOT / "nbsrc").with_suffix("") for p in (ROOT / "nbsrc").rglob("*.md")}
    for rel in sorted(books - srcs):
        problems.append(f"book/{rel}.ipynb has no text mirror nbsrc/{rel}.md (jupytext --to md:myst)")
    for rel in sorted(srcs - books):
        problems.append(f"nbsrc/{rel}.md has no notebook: run `make nb NB=nbsrc/{rel}.md`")
    for rel in sorted(books & srcs):
        a, b = cells(ROOT / "book" / f"{rel}.ipynb"), cells(ROOT / "nbsrc" / f"{rel}.md")
        if a != b:
            i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            problems.append(f"book/{rel}.ipynb and nbsrc/{rel}.md differ from cell {i}: rebuild with "
                            f"`make nb NB=nbsrc/{rel}.md`")
    for p in problems:
        print("out of sync:", p)
    print(f"{len(books & srcs)} notebook/mirror pairs checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

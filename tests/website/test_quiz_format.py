"""Self-check quizzes follow the book's convention (docs/teaching.md), so they render the same on
every page: an ``{admonition}`` with class ``quiz`` holding numbered questions (``**1.**``), each
followed by its answer in a ``{dropdown}`` (collapsed on the website; the browser test checks that).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPEN = re.compile(r"^(:{3,}|`{3,})\{admonition\}")
QUESTION = re.compile(r"^\*\*(\d+)\.\*\*")
ANSWER = re.compile(r"^(:{3,}|`{3,})\{dropdown\}")


def markdown_sources() -> dict:
    """{name: markdown text} of every page source: MyST .md files and notebooks' markdown cells."""
    out = {}
    for folder in ("book", "nbsrc"):
        for p in (ROOT / folder).rglob("*.md"):
            if "_build" not in p.parts:
                out[str(p.relative_to(ROOT))] = p.read_text()
        for p in (ROOT / folder).rglob("*.ipynb"):
            if "_build" in p.parts or ".ipynb_checkpoints" in p.parts:
                continue
            cells = json.loads(p.read_text()).get("cells", [])
            out[str(p.relative_to(ROOT))] = "\n\n".join(
                "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in cells if c["cell_type"] == "markdown")
    return out


def quizzes(text: str) -> list[dict]:
    """Each quiz block: its first line number, question numbers and answer count."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        m = OPEN.match(line)
        if not m:
            continue
        fence = m.group(1)
        opts = []
        j = i + 1
        while j < len(lines) and lines[j].startswith(":") and not lines[j].startswith(fence[0] * 3):
            opts.append(lines[j])
            j += 1
        if not any(o.startswith(":class:") and "quiz" in o.split() for o in opts):
            continue
        end = next((k for k in range(j, len(lines)) if lines[k].rstrip() == fence), None)
        body = lines[j:end] if end is not None else lines[j:]
        found.append({"line": i + 1, "closed": end is not None,
                      "questions": [int(q.group(1)) for q in map(QUESTION.match, body) if q],
                      "answers": sum(1 for b in body if ANSWER.match(b))})
    return found


def test_parser_on_the_documented_example():
    text = "\n".join(["::::{admonition} Self-check", ":class: quiz", "", "**1.** Why?", "",
                      ":::{dropdown} Answer", "Because.", ":::", "", "**2.** How?", "",
                      ":::{dropdown} Answer", "So.", ":::", "::::", "", ":::{admonition} Note", "x", ":::"])
    assert quizzes(text) == [{"line": 1, "closed": True, "questions": [1, 2], "answers": 2}]
    broken = text.replace(":::{dropdown} Answer\nSo.\n:::\n", "")
    assert quizzes(broken)[0]["answers"] == 1


SOURCES = markdown_sources()
WITH_QUIZ = {k: v for k, v in SOURCES.items() if quizzes(v)}


@pytest.mark.parametrize("name", sorted(WITH_QUIZ) or [pytest.param(
    None, marks=pytest.mark.skip(reason="no page has a quiz yet"))])
def test_every_question_has_one_collapsed_answer(name):
    for q in quizzes(WITH_QUIZ[name]):
        where = f"{name}:{q['line']}"
        assert q["closed"], f"{where}: the quiz admonition is not closed by its fence"
        assert q["questions"], f"{where}: a quiz without questions (number them **1.**, **2.**, ...)"
        assert q["questions"] == list(range(1, len(q["questions"]) + 1)), (
            f"{where}: questions numbered {q['questions']}, expected 1..{len(q['questions'])}")
        assert q["answers"] == len(q["questions"]), (
            f"{where}: {len(q['questions'])} questions but {q['answers']} {{dropdown}} answers")

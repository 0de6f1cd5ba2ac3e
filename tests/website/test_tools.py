"""The teaching tools without a browser: generated pages are up to date, and the browser check's
judgements (links, Colab, math, offline, widgets) fail on broken input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from accel_lib.core import CatalogEntry
from tools import browser_check as bc
from tools import gen_index

ROOT = Path(__file__).resolve().parents[2]


def test_generated_pages_are_up_to_date():
    assert gen_index.main(["--check"]) == 0, "run `python tools/gen_index.py` and commit the pages"


def test_page_ref_links_only_built_pages():
    assert gen_index.page_ref("book/data/mixup.ipynb", "MixUp", docs={"book/data/mixup"}) == \
        "{doc}`MixUp </book/data/mixup>`"
    assert gen_index.page_ref("book/data/mixup.ipynb", "MixUp", docs=set()) == "MixUp *(planned)*"


def test_technique_index_lists_every_entry():
    entries = [CatalogEntry("MixUp", "data", "dataset regularization", "accel_lib.data.mixup",
                            "time-to-accuracy", "torchvision.transforms.v2.MixUp",
                            "book/data/regularization.ipynb"),
               CatalogEntry("EMA", "optim", "model average", "accel_lib.optim.ema", "accuracy per step",
                            "none", "book/optim/averaging.ipynb")]
    page = gen_index.techniques_page(entries, docs={"book/data/regularization"})
    assert "2 techniques in 2 parts" in page
    assert "| MixUp | dataset regularization | time-to-accuracy | `torchvision.transforms.v2.MixUp` |" in page
    assert "{doc}`data/regularization </book/data/regularization>`" in page
    assert "optim/averaging *(planned)*" in page and "| none |" in page


def test_syllabi_cover_the_weeks_with_cpu_and_gpu_variants():
    spec = yaml.safe_load((ROOT / "book/guide/syllabi.yml").read_text())
    assert {k: len(v["weeks"]) for k, v in spec.items()} == {"syllabus_6week": 6, "syllabus_12week": 12}
    for s in spec.values():
        assert [w["week"] for w in s["weeks"]] == list(range(1, len(s["weeks"]) + 1))
        for w in s["weeks"]:
            assert w["pages"] and w["cpu"] and w["gpu"] and w["exercises"], w
            assert all(p.startswith("book/") and p.count("/") == 2 for p in w["pages"]), w["pages"]
    twelve = {p for w in spec["syllabus_12week"]["weeks"] for p in w["pages"]}
    assert {"book/core/measuring", "book/system/precision", "book/distributed/pipeline_parallel"} <= twelve


def test_toc_walker_reads_nested_toc(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/index\nparts:\n  - caption: A\n    chapters:\n"
                   "      - file: book/a/x\n        sections:\n          - file: book/a/y.ipynb\n")
    assert gen_index.toc_files(toc) == ["book/index", "book/a/x", "book/a/y"]


def test_link_checker_finds_missing_files_and_anchors(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a name="old"></a>')
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "index.html").write_text("<p>d</p>")
    site = bc.Site(tmp_path)
    assert site.check("/a.html#top", "") is None and site.check("/a.html#old", "") is None
    assert site.check("/d/", "") is None
    assert "no element with id 'nope'" in site.check("/a.html#nope", "")
    assert "no such file" in site.check("/b.html", "")


def test_colab_check_rejects_wrong_links():
    rec = {"doc": "book/core/measuring", "source": "book/core/measuring.ipynb"}
    report = {"colab_problems": [], "colab_links": 0}
    good = f"{bc.COLAB}github/accel-book/accel-book/blob/main/book/core/measuring.ipynb"
    bc._check_colab([good], dict(rec), "accel-book/accel-book", "main", "", set(), report)
    assert any("not committed" in p or "missing" in p for p in report["colab_problems"])
    report["colab_problems"].clear()
    wrong = f"{bc.COLAB}github/someone/fork/blob/dev/book/core/other.ipynb"
    bc._check_colab([wrong], dict(rec), "accel-book/accel-book", "main", "", None, report)
    text = " ".join(report["colab_problems"])
    assert "expected accel-book/accel-book@main" in text and "opens book/core/other.ipynb" in text
    report["colab_problems"].clear()
    bc._check_colab([], dict(rec), "accel-book/accel-book", "main", "", None, report)
    assert "without a Colab launch link" in report["colab_problems"][0]


def test_widget_check_needs_a_static_figure(tmp_path):
    nb = {"cells": [{"cell_type": "code", "outputs": [{"data": {bc.WIDGET_MIME: {}, "text/plain": "x"}}]}]}
    path = tmp_path / "w.ipynb"
    path.write_text(json.dumps(nb))
    report = {"widget_problems": []}
    bc._check_widgets({"doc": "book/x/w"}, path, report)
    assert "no static figure" in report["widget_problems"][0]
    nb["cells"].append({"cell_type": "code", "outputs": [{"data": {"image/png": "..."}}]})
    path.write_text(json.dumps(nb))
    report = {"widget_problems": []}
    bc._check_widgets({"doc": "book/x/w", "output_images": 1}, path, report)
    assert report["widget_problems"] == []


def _report(**page):
    base = {"doc": "book/x", "status": 200, "title": "X", "text_length": 1000}
    return {"pages": [{**base, **page}], "broken_links": [], "colab_problems": [],
            "widget_problems": [], "search": {"MixUp": 3}, "screenshots": ["a", "b", "c"]}


@pytest.mark.parametrize("page,check", [
    ({"math_total": 2, "math_rendered": 1, "mathjax_scripts": ["http://127.0.0.1:1/_static/mathjax/tex-chtml.js"]}, "math"),
    ({"math_total": 1, "math_rendered": 1, "mathjax_scripts": ["https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"]}, "math"),
    ({"external_requests": ["https://cdn.example/x.js"]}, "offline"),
    ({"console_errors": ["Uncaught ReferenceError"]}, "console"),
    ({"status": 404}, "render"),
    ({"text_length": 10}, "render"),
    ({"images": [{"src": "x.png", "ok": False}]}, "images"),
    ({"quizzes": [{"answers": 2, "open": 1}]}, "quiz"),
    ({"solutions": [{"id": "s1", "dropdown": False, "hidden": False}]}, "solutions"),
    ({"solutions": [{"id": "s1", "dropdown": True, "hidden": False}]}, "solutions"),
])
def test_failures_are_reported(page, check):
    f = bc.failures(_report(**page))
    assert f[check], f
    assert not any(v for k, v in f.items() if k != check), f


def test_a_clean_report_passes():
    f = bc.failures(_report(math_total=1, math_rendered=1,
                            mathjax_scripts=["http://127.0.0.1:1/_static/mathjax/tex-chtml.js"]))
    assert not any(f.values()), f


def test_exercise_inventory_reads_exercises_solutions_and_checkers(tmp_path):
    md = lambda text: {"cell_type": "markdown", "metadata": {}, "source": text}  # noqa: E731
    code = lambda text: {"cell_type": "code", "metadata": {}, "source": text, "outputs": []}  # noqa: E731
    nb = {"cells": [
        md("# Title"),
        md("```{exercise} Write MixUp\n:label: ex-a\nImplement it.\n```\n\n```{solution-start} ex-a\n:class: dropdown\n```"),
        code("def f(x):\n    return x\nfrom accel_lib.exercises import data\ndata.check_mixup(f)"),
        md("```{solution-end}\n```\n\n```{exercise}\n:label: ex-b\nWhy does it help?\n```"),
        code("print(1)"),
        md("::::{admonition} Self-check\n:class: quiz\n\n**1.** Q?\n\n:::{dropdown} Answer\nA.\n:::\n::::"),
    ]}
    path = tmp_path / "p.ipynb"
    path.write_text(json.dumps(nb))
    info = gen_index.exercises_of(path)
    assert info["quiz"] == 1
    a, b = info["exercises"]
    assert (a["label"], a["title"], a["solution"], a["checkers"]) == ("ex-a", "Write MixUp", True, {"check_mixup"})
    assert (b["label"], b["title"], b["solution"], b["checkers"]) == ("ex-b", "Why does it help?", False, set())

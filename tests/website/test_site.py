"""The built website, checked in headless Chromium (tools/browser_check.py does the work).

Run after the book build: ``make book && python -m pytest tests/website -q``. Skips with the reason
when the site is not built or the browser is missing, unless ``ACCEL_REQUIRE_BROWSER=1`` (CI sets
it after building the book), where those become failures. ``ACCEL_SITE_DIR`` and
``ACCEL_SITE_TOC`` point the check at another build or table of contents.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("ACCEL_SITE_DIR", ROOT / "_build_root" / "_build" / "html"))
TOC = Path(os.environ.get("ACCEL_SITE_TOC", ROOT / "_toc.yml"))
REQUIRED = os.environ.get("ACCEL_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"{reason} (ACCEL_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def report():
    if not (SITE / "index.html").exists():
        _unavailable(f"the website is not built ({SITE}/index.html missing): run `make book` first")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed: pip install -r requirements.txt")
    from tools import browser_check
    if not Path(browser_check.CHROMIUM).exists():
        _unavailable(f"{browser_check.CHROMIUM} missing: apt-get install -y chromium")
    r = browser_check.run_check(SITE, TOC)
    print(browser_check.summary(r))
    return r


def _ok(report, check):
    problems = report["failures"][check]
    assert not problems, f"{len(problems)} {check} problems:\n" + "\n".join(problems)


def test_every_toc_page_renders(report):
    from tools.browser_check import toc_docs
    assert [p["doc"] for p in report["pages"]] == toc_docs(TOC)
    _ok(report, "render")


def test_no_console_errors(report):
    _ok(report, "console")


def test_site_works_offline(report):
    """No page fetches anything outside localhost (no CDN for MathJax, widgets or fonts)."""
    _ok(report, "offline")


def test_math_renders_offline(report):
    assert report["math_pages"] >= 1, "no page with math was checked (the notation page has math)"
    _ok(report, "math")


def test_internal_links_resolve(report):
    assert report["links_checked"] > len(report["pages"]), "suspiciously few internal links checked"
    _ok(report, "links")


def test_colab_links_open_committed_notebooks(report):
    _ok(report, "colab")


def test_widgets_have_static_fallback(report):
    _ok(report, "widgets")


def test_images_load(report):
    _ok(report, "images")


def test_exercise_solutions_start_collapsed(report):
    _ok(report, "solutions")


def test_quiz_answers_start_collapsed(report):
    _ok(report, "quiz")


def test_search_finds_technique_names(report):
    assert report["search"], "no search term was tried"
    _ok(report, "search")


def test_screenshots_saved(report):
    _ok(report, "screenshots")
    assert all(Path(p).stat().st_size > 10_000 for p in report["screenshots"])

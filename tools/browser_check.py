"""Check the built website in a real browser (Debian's headless Chromium driven by Playwright).

Serves the built site (``_build_root/_build/html``) on localhost and visits every page of the
table of contents with the network outside localhost blocked, then reports:

- pages: HTTP status, a title, console errors and uncaught exceptions, requests that left
  localhost (the site must work offline) or failed;
- math: every ``.math`` element typeset by a local MathJax copy (no CDN), no MathJax errors;
- links: every internal link resolves to a file of the site, and its ``#fragment`` to an id;
- Colab: every launch link points at ``github/<org>/<repo>/blob/<branch>/<the page's .ipynb>``
  (from ``_config.yml``), and that notebook is committed;
- widgets: a page whose notebook displays ipywidgets also shows a static image;
- images: every ``<img>`` loads; exercise solutions and quiz answers start collapsed;
- search: ``search.html?q=<technique>`` lists results;
- screenshots of a few pages under ``_build_root/screenshots/``.

Usage: ``python tools/browser_check.py [--site DIR] [--toc _toc.yml] [--json report.json]``;
exit status 1 when a check fails. ``tests/website/test_site.py`` runs the same check under pytest.
Needs ``apt-get install chromium`` and ``pip install playwright`` (no browser download: the
Debian binary is used through ``executable_path``; override with ``ACCEL_CHROMIUM``).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_SITE = ROOT / "_build_root" / "_build" / "html"
DEFAULT_SHOTS = ROOT / "_build_root" / "screenshots"
CHROMIUM = os.environ.get("ACCEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Offline: every host but localhost fails to resolve, so a CDN dependency shows up as an
    # external request and a console error instead of silently working on a networked machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/svg+xml", "image/jpeg")
COLAB = "https://colab.research.google.com/"
# Console messages that are not the site's fault, each with the reason it is tolerated.
KNOWN_CONSOLE_NOISE = {
    # sphinx-thebe 0.3.1 registers its inline config script (`const THEBE_JS_URL = ...`) both with
    # the Sphinx registry and the already-initialised builder, so Sphinx 7.4 emits it twice; the
    # second copy throws. Thebe (live code on the website) is not enabled, so nothing breaks.
    r"^Identifier 'THEBE_JS_URL' has already been declared": "sphinx-thebe 0.3.1 + Sphinx 7.4",
    # Chromium probes /favicon.ico on its own when a site declares no icon.
    r"status of 404 .*\(http://127\.0\.0\.1:\d+/favicon\.ico:": "browser favicon probe",
}


# ---------------------------------------------------------------- inputs
def toc_docs(toc: Path) -> list[str]:
    from tools.gen_index import toc_files  # the same toc walker the index generator uses
    return list(dict.fromkeys(toc_files(toc)))


def source_of(doc: str) -> Optional[Path]:
    for suffix in (".ipynb", ".md"):
        if (ROOT / f"{doc}{suffix}").exists():
            return ROOT / f"{doc}{suffix}"
    return None


def notebook_outputs(path: Path) -> set:
    """Every output MIME type of a notebook."""
    nb = json.loads(path.read_text())
    mimes = set()
    for c in nb.get("cells", []):
        for o in c.get("outputs", []) or []:
            mimes.update((o.get("data") or {}).keys())
    return mimes


def committed_files() -> Optional[set]:
    """Files in the HEAD commit, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "ls-tree", "-r", "--name-only", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return set(out.splitlines())


def repository() -> tuple:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = cfg.get("repository", {})
    url = str(repo.get("url", "")).rstrip("/")
    m = re.match(r"https://github\.com/([^/]+/[^/]+)$", url)
    prefix = str(repo.get("path_to_book", "") or "").strip("/")
    return (m.group(1) if m else url), str(repo.get("branch", "main")), prefix


def search_terms(limit: int = 3) -> list[str]:
    """A few technique names from the catalog (one per part); MixUp before any is registered
    (the glossary defines it, so the search must still find it)."""
    try:
        from accel_lib.catalog import entries
        seen, out = set(), []
        for e in entries():
            if e.part not in seen:
                seen.add(e.part)
                out.append(e.name)
        if out:
            return out[:limit]
    except Exception:  # a broken catalog is the meta-tests' business, not the browser test's
        pass
    return ["MixUp"]


# ---------------------------------------------------------------- server
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(site: Path):
    handler = functools.partial(_Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


# ---------------------------------------------------------------- link resolution
class Site:
    def __init__(self, root: Path):
        self.root = root
        self._ids: dict = {}

    def file_for(self, path: str) -> Path:
        p = self.root / unquote(path).lstrip("/")
        return p / "index.html" if path.endswith("/") or p.is_dir() else p

    def ids(self, f: Path) -> set:
        if f not in self._ids:
            text = f.read_text(errors="replace") if f.suffix == ".html" else ""
            self._ids[f] = set(re.findall(r'\bid="([^"]+)"', text)) | set(
                re.findall(r'\bname="([^"]+)"', text))
        return self._ids[f]

    def check(self, href: str, base: str) -> Optional[str]:
        """None when an internal link resolves, else why not."""
        u = urlsplit(href)
        f = self.file_for(u.path)
        if not f.is_file():
            return f"no such file {f.relative_to(self.root) if f.is_relative_to(self.root) else f}"
        frag = unquote(u.fragment)
        if frag and f.suffix == ".html" and frag not in self.ids(f):
            return f"no element with id '{frag}' in {f.relative_to(self.root)}"
        return None


# ---------------------------------------------------------------- the check
PAGE_PROBE = """async () => {
  const mj = [...document.scripts].map(s => s.src).filter(s => /mathjax/i.test(s));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise, new Promise(r => setTimeout(r, 15000))]);
  }
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.race([
    Promise.all(imgs.map(i => i.complete ? 1 : new Promise(r => { i.onload = i.onerror = r; }))),
    new Promise(r => setTimeout(r, 10000))]);
  const math = [...document.querySelectorAll('.math')];
  return {
    title: (document.querySelector('article h1, main h1, h1') || {}).textContent || '',
    text_length: ((document.querySelector('article') || document.body).innerText || '').length,
    mathjax_scripts: mj,
    math_total: math.length,
    math_rendered: math.filter(m => m.querySelector('mjx-container') || m.tagName === 'MJX-CONTAINER').length,
    math_errors: document.querySelectorAll('mjx-merror, .MathJax_Error').length,
    images: imgs.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    output_images: document.querySelectorAll('.cell_output img, .output img').length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    exercises: document.querySelectorAll('.exercise').length,
    // sphinx-exercise solutions with `:class: dropdown` start collapsed (sphinx-togglebutton):
    // sphinx-togglebutton marks them toggle-hidden and nothing but their title takes space.
    solutions: [...document.querySelectorAll('.solution')].map(s => ({
      id: s.id, dropdown: s.classList.contains('dropdown'),
      hidden: s.classList.contains('toggle-hidden') &&
              [...s.children].filter(c => !c.classList.contains('admonition-title'))
                             .every(c => c.offsetHeight === 0)})),
    quizzes: [...document.querySelectorAll('.admonition.quiz')].map(q => ({
      answers: q.querySelectorAll('details').length,
      open: q.querySelectorAll('details[open]').length})),
  };
}"""

SEARCH_PROBE = """() => {
  // Sphinx's searchtools writes "Search finished, found N page(s)" or "did not match" when done.
  const r = document.querySelector('#search-results');
  const summary = r && r.querySelector('.search-summary');
  const text = summary ? summary.textContent : '';
  if (!/finished|did not match/i.test(text)) return null;
  return {n: r.querySelectorAll('li').length};  // an object: 0 results must end the wait too
}"""


def _rel(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "__", path.strip("/")) or "index"


def run_check(site: Path = DEFAULT_SITE, toc: Path = ROOT / "_toc.yml",
              shots: Path = DEFAULT_SHOTS, terms: Optional[list] = None,
              n_screenshots: int = 6) -> dict:
    from playwright.sync_api import sync_playwright

    t0 = time.time()
    site = Path(site)
    if not (site / "index.html").exists():
        raise FileNotFoundError(f"{site}/index.html not found: build the book first (`make book`)")
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} not found: `apt-get install -y chromium` "
                                "(or set ACCEL_CHROMIUM to a Chromium binary)")
    docs = toc_docs(Path(toc))
    repo, branch, prefix = repository()
    committed = committed_files()
    checker = Site(site)
    report: dict = {"site": str(site), "toc": str(toc), "pages": [], "broken_links": [],
                    "links_checked": 0, "external_links": 0, "colab_problems": [],
                    "colab_links": 0, "widget_problems": [], "search": {}, "screenshots": []}
    shots = Path(shots)
    if shots.exists():
        shutil.rmtree(shots)
    shots.mkdir(parents=True)
    httpd, base = serve(site)
    current: dict = {}
    try:
        with sync_playwright() as pw, tempfile.TemporaryDirectory(prefix="accel-chromium-") as profile:
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1280, "height": 900}, service_workers="block")
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.set_default_timeout(30000)

            def on_console(msg):
                if msg.type == "error":
                    loc = msg.location or {}
                    text = f"{msg.text} ({loc.get('url', '')}:{loc.get('lineNumber', '')})"
                    key = ("known_console_noise" if any(re.search(r, text) for r in KNOWN_CONSOLE_NOISE)
                           else "console_errors")
                    current.setdefault(key, []).append(text)

            def on_request(req):
                host = urlsplit(req.url).hostname or ""
                if req.url.startswith(("http://", "https://")) and host not in ("127.0.0.1", "localhost"):
                    current.setdefault("external_requests", []).append(req.url)

            def on_response(resp):
                if resp.status >= 400 and not urlsplit(resp.url).path == "/favicon.ico":
                    current.setdefault("failed_requests", []).append(f"{resp.status} {resp.url}")

            page.on("console", on_console)
            def on_pageerror(exc):
                text = str(exc)
                key = ("known_console_noise" if any(re.search(r, text) for r in KNOWN_CONSOLE_NOISE)
                       else "page_errors")
                current.setdefault(key, []).append(text)

            page.on("pageerror", on_pageerror)
            page.on("request", on_request)
            page.on("response", on_response)

            shot_docs = _pick_screenshots(docs, n_screenshots)
            for doc in docs:
                current.clear()
                rec: dict = {"doc": doc, "url": f"{base}/{doc}.html"}
                t_page = time.time()
                src = source_of(doc)
                rec["source"] = str(src.relative_to(ROOT)) if src else None
                try:
                    resp = page.goto(rec["url"], wait_until="load")
                    rec["status"] = resp.status if resp else None
                    probe = page.evaluate(PAGE_PROBE)
                except Exception as exc:  # a page that times out or crashes is a failure, not a crash
                    rec["status"] = rec.get("status")
                    rec["error"] = f"{type(exc).__name__}: {exc}"
                    probe = {}
                links = probe.pop("links", [])
                rec.update(probe)
                if doc in shot_docs and "error" not in rec:
                    out = shots / f"{_rel(doc)}.png"
                    page.screenshot(path=str(out))
                    report["screenshots"].append(str(out))
                for key in ("console_errors", "known_console_noise", "page_errors", "external_requests",
                            "failed_requests"):
                    rec[key] = list(current.get(key, []))
                _check_links(links, rec, base, checker, report)
                _check_colab(links, rec, repo, branch, prefix, committed, report)
                _check_widgets(rec, src, report)
                rec["seconds"] = round(time.time() - t_page, 2)
                report["pages"].append(rec)

            for term in (terms or search_terms()):
                current.clear()
                try:
                    page.goto(f"{base}/search.html?q={term}", wait_until="load")
                    handle = page.wait_for_function(SEARCH_PROBE, timeout=20000)
                    report["search"][term] = int(handle.json_value()["n"])
                except Exception as exc:
                    report["search"][term] = f"{type(exc).__name__}: {exc}"
            ctx.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    report["seconds"] = round(time.time() - t0, 1)
    report["failures"] = failures(report)
    return report


def _pick_screenshots(docs: list, n: int) -> list:
    """The root page, then the first page of each directory (one per part), then the rest."""
    picked, dirs = [], set()
    for d in docs:
        if d.rsplit("/", 1)[0] not in dirs:
            dirs.add(d.rsplit("/", 1)[0])
            picked.append(d)
    return (picked + [d for d in docs if d not in picked])[:n]


def _check_links(links: list, rec: dict, base: str, checker: Site, report: dict) -> None:
    for href in dict.fromkeys(links):
        if href.startswith(base):
            report["links_checked"] += 1
            why = checker.check(href[len(base):], rec["url"])
            if why:
                report["broken_links"].append({"page": rec["doc"], "href": href[len(base):], "why": why})
        elif href.startswith(("http://", "https://")):
            report["external_links"] += 1


def _check_colab(links: list, rec: dict, repo: str, branch: str, prefix: str,
                 committed: Optional[set], report: dict) -> None:
    colab = [h for h in dict.fromkeys(links) if h.startswith(COLAB)]
    rec["colab"] = colab
    src = rec.get("source")
    if src and src.endswith(".ipynb") and not colab:
        report["colab_problems"].append(f"{rec['doc']}: notebook page without a Colab launch link")
    for href in colab:
        report["colab_links"] += 1
        m = re.match(re.escape(COLAB) + r"github/([^/]+/[^/]+)/blob/([^/]+)/(.+\.ipynb)$", href)
        if not m:
            report["colab_problems"].append(f"{rec['doc']}: malformed Colab link {href}")
            continue
        path = m.group(3)
        in_repo = path[len(prefix) + 1:] if prefix and path.startswith(prefix + "/") else path
        if m.group(1) != repo or m.group(2) != branch:
            report["colab_problems"].append(
                f"{rec['doc']}: Colab link to {m.group(1)}@{m.group(2)}, expected {repo}@{branch}")
        if in_repo != f"{rec['doc']}.ipynb":
            report["colab_problems"].append(f"{rec['doc']}: Colab link opens {in_repo}, not {rec['doc']}.ipynb")
        if not (ROOT / in_repo).is_file():
            report["colab_problems"].append(f"{rec['doc']}: Colab link to missing {in_repo}")
        elif committed is not None and in_repo not in committed:
            report["colab_problems"].append(f"{rec['doc']}: {in_repo} is not committed (Colab opens "
                                            "the committed file on GitHub)")


def _check_widgets(rec: dict, src: Optional[Path], report: dict) -> None:
    if src is None or src.suffix != ".ipynb":
        rec["widgets"] = False
        return
    mimes = notebook_outputs(src)
    rec["widgets"] = WIDGET_MIME in mimes
    if rec["widgets"]:
        if not mimes & set(IMAGE_MIMES):
            report["widget_problems"].append(
                f"{rec['doc']}: displays ipywidgets but has no static figure output (draw the same "
                "function with matplotlib so the website shows it)")
        elif not rec.get("output_images"):
            report["widget_problems"].append(f"{rec['doc']}: the static figure does not show on the website")


def failures(report: dict) -> dict:
    """{check: [problem, ...]} for every failing check (empty lists mean it passed)."""
    f: dict = {k: [] for k in ("render", "console", "offline", "math", "links", "colab",
                               "widgets", "images", "solutions", "quiz", "search", "screenshots")}
    mathjax_pages = 0
    for p in report["pages"]:
        d = p["doc"]
        if p.get("error") or p.get("status") != 200 or not p.get("title", "").strip():
            f["render"].append(f"{d}: status {p.get('status')}, title {p.get('title', '')!r} {p.get('error', '')}")
        f["console"] += [f"{d}: {e}" for e in p.get("console_errors", []) + p.get("page_errors", [])
                         if not (p.get("status") != 200 and p.get("url", "\0") in e)]  # reported under render
        if p.get("status") == 200 and "error" not in p and p.get("text_length", 0) < 200:
            f["render"].append(f"{d}: only {p.get('text_length')} characters of text rendered")
        f["offline"] += [f"{d}: fetched {u}" for u in p.get("external_requests", [])]
        f["images"] += [f"{d}: {r}" for r in p.get("failed_requests", []) if not r.endswith(p.get("url", "\0"))]
        f["images"] += [f"{d}: image did not load {i['src']}" for i in p.get("images", []) if not i["ok"]]
        if p.get("math_total"):
            mathjax_pages += 1
            bad = [s for s in p.get("mathjax_scripts", []) if not s.startswith("http://127.0.0.1")]
            if bad or not p.get("mathjax_scripts"):
                f["math"].append(f"{d}: MathJax not served locally: {p.get('mathjax_scripts')}")
            if p.get("math_rendered", 0) < p["math_total"]:
                f["math"].append(f"{d}: {p.get('math_rendered', 0)} of {p['math_total']} formulas typeset")
            if p.get("math_errors"):
                f["math"].append(f"{d}: {p['math_errors']} MathJax errors")
        for sol in p.get("solutions", []):
            if not sol["dropdown"] or not sol["hidden"]:
                f["solutions"].append(f"{d}: solution {sol['id']} is shown open (give its solution-start "
                                      "`:class: dropdown`)")
        for q in p.get("quizzes", []):
            if not q["answers"]:
                f["quiz"].append(f"{d}: a quiz without collapsed answers")
            if q["open"]:
                f["quiz"].append(f"{d}: {q['open']} quiz answers shown open")
    f["links"] = [f"{b['page']}: {b['href']} ({b['why']})" for b in report["broken_links"]]
    f["colab"] = list(report["colab_problems"])
    f["widgets"] = list(report["widget_problems"])
    for term, n in report["search"].items():
        if not isinstance(n, int) or n < 1:
            f["search"].append(f"search for {term!r}: {n}")
    if len(report["screenshots"]) < min(3, len(report["pages"])):
        f["screenshots"].append(f"only {len(report['screenshots'])} screenshots saved")
    report["math_pages"] = mathjax_pages
    return f


def summary(report: dict) -> str:
    f = report["failures"]
    lines = [f"browser check of {len(report['pages'])} toc pages in {report['seconds']} s: "
             f"{report['links_checked']} internal links, {len(report['broken_links'])} broken; "
             f"{report['colab_links']} Colab links; {report.get('math_pages', 0)} pages with math; "
             f"{sum(p.get('exercises', 0) for p in report['pages'])} exercises, "
             f"{sum(len(p.get('solutions', [])) for p in report['pages'])} solutions, "
             f"{sum(q['answers'] for p in report['pages'] for q in p.get('quizzes', []))} quiz answers; "
             f"search {report['search']}; {len(report['screenshots'])} screenshots"]
    for k, v in f.items():
        lines.append(f"  {k:12s} {'ok' if not v else f'{len(v)} problems'}")
        lines += [f"    - {x}" for x in v[:20]]
    return "\n".join(lines)


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--site", type=Path, default=DEFAULT_SITE)
    ap.add_argument("--toc", type=Path, default=ROOT / "_toc.yml")
    ap.add_argument("--screenshots", type=Path, default=DEFAULT_SHOTS)
    ap.add_argument("--json", type=Path, help="write the full report here")
    ap.add_argument("--search", nargs="*", help="terms to search for (default: technique names)")
    args = ap.parse_args(argv)
    report = run_check(args.site, args.toc, args.screenshots, args.search)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(summary(report))
    return 1 if any(report["failures"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())

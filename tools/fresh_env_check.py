"""Run the book's notebooks in a fresh virtualenv holding only what the library declares.

What a reader gets on Colab or a laptop is ``pip install accel-lib`` with the dependencies of
``pyproject.toml`` (plus ipywidgets, which Colab ships), not the book's full pins. This builds such
an environment from scratch: a new venv, ``pip install <repo>[widgets]`` (a real, non-editable
install, so missing package data shows up) plus nbval/ipykernel/pytest-xdist to run the
notebooks, and executes every notebook under book/ (or the ones given) with nbval in it, with
``PYTHONPATH`` cleared so ``import accel_lib`` can only find the installed copy.

torch and torchvision (about 5 GB with their CUDA libraries) are, by default, linked from the
environment running this script, as Colab ships them preinstalled; ``--download-torch`` installs
them from the package index too (a fully fresh environment, several minutes more).

Usage:
    python tools/fresh_env_check.py [book/part/page.ipynb ...] [--download-torch] [--keep DIR]
Prints the time of each phase and writes ``_build_root/fresh_env.json``; exit status 1 when the
install or a notebook fails.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ["nbval", "ipykernel", "pytest", "pytest-xdist"]
NOT_LINKED = {"numpy", "pillow"}  # declared (directly or by torchvision): installed fresh by pip


def _name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def closure(roots: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``roots`` need: their requirements, recursively, following
    the extras they ask for (``cuda-toolkit[cublas,...]``) and skipping optional ones."""
    seen: dict = {}
    todo = [(r, frozenset()) for r in roots]
    done: set = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in done or name in NOT_LINKED:
            continue
        done.add((name, extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        for req in dist.requires or []:
            spec, _, marker = req.partition(";")
            wanted = re.findall(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker)
            if wanted and not set(wanted) & extras:
                continue
            m = re.search(r"\[([^\]]*)\]", spec)
            sub = frozenset(x.strip() for x in m.group(1).split(",")) if m else frozenset()
            todo.append((_name(spec), sub))
    return list(seen.values())


def link_distributions(dists, target: Path) -> int:
    """Symlink each distribution's top-level files and its dist-info into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    n = 0
    for dist in dists:
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            src, dst = base / top, target / top
            if src.exists() and not dst.exists():
                dst.symlink_to(src)
                n += 1
    return n


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, **kw)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--download-torch", action="store_true",
                    help="install torch/torchvision from the index too instead of linking them")
    ap.add_argument("--keep", type=Path, help="build the venv here and keep it (default: a temp dir)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)

    notebooks = [p.resolve() for p in args.notebooks] or sorted(
        p for p in (ROOT / "book").rglob("*.ipynb")
        if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts)
    work = args.keep or Path(tempfile.mkdtemp(prefix="accel-fresh-"))
    if args.keep and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    py = venv / "bin" / "python"
    result: dict = {"notebooks": [str(p.relative_to(ROOT)) for p in notebooks],
                    "download_torch": args.download_torch, "phases": {}}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("MPLBACKEND", None)  # the kernel must use the inline backend, as on Colab
    ok = True
    try:
        t = time.time()
        base_python = getattr(sys, "_base_executable", sys.executable)
        run([base_python, "-m", "venv", str(venv)], check=True)
        if not args.download_torch:
            site = Path(subprocess.check_output(
                [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
            dists = closure(["torch", "torchvision"])
            if not any(d.metadata["Name"].lower() == "torch" for d in dists):
                sys.exit("torch is not installed in the environment running this script: run it with the "
                         "book's venv python, or pass --download-torch")
            n = link_distributions(dists, work / "linked")
            (site / "_accel_linked_torch.pth").write_text(str(work / "linked") + "\n")
            result["linked"] = sorted(f"{d.metadata['Name']}=={d.version}" for d in dists)
            print(f"linked {len(dists)} distributions ({n} entries): torch, torchvision and their requirements")
        result["phases"]["venv"] = round(time.time() - t, 1)

        t = time.time()
        r = run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-input",
                 f"{ROOT}[widgets]", *RUNNER], env=env, cwd=work)
        result["phases"]["install"] = round(time.time() - t, 1)
        if r.returncode:
            result["error"] = "pip install failed"
            return 1
        freeze = subprocess.check_output([str(py), "-m", "pip", "list", "--format=freeze",
                                          "--disable-pip-version-check"], text=True, env=env)
        result["packages"] = len(freeze.splitlines())
        where = subprocess.check_output([str(py), "-c", "import accel_lib; print(accel_lib.__file__)"],
                                        text=True, env=env, cwd=work).strip()
        result["accel_lib"] = where
        if str(ROOT) in where:
            result["error"] = f"accel_lib imported from the checkout ({where}), not the install"
            return 1

        if not notebooks:
            print("no notebooks under book/: nothing to execute")
            result["phases"]["notebooks"] = 0.0
            return 0
        t = time.time()
        r = run([str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
                 "--nbval-cell-timeout=600", "-n", str(args.jobs), "--dist", "loadfile",
                 "-o", "addopts=", "--rootdir", str(work), *map(str, notebooks)],
                env=env, cwd=work, capture_output=True, text=True)
        result["phases"]["notebooks"] = round(time.time() - t, 1)
        tail = (r.stdout + r.stderr).strip().splitlines()
        print("\n".join(tail[-40:]))
        result["pytest_summary"] = tail[-1] if tail else ""
        ok = r.returncode == 0
        return 0 if ok else 1
    finally:
        result["ok"] = ok and "error" not in result
        result["seconds"] = round(sum(result["phases"].values()), 1)
        out = ROOT / "_build_root" / "fresh_env.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        print(f"fresh environment check: {'ok' if result['ok'] else 'FAILED'} "
              f"({', '.join(f'{k} {v} s' for k, v in result['phases'].items())}); report {out.relative_to(ROOT)}")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

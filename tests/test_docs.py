"""The committed generated pages are up to date, and every notebook has a text mirror in sync."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_api_reference_is_up_to_date():
    r = subprocess.run([sys.executable, "tools/gen_reference.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout


def test_notebooks_and_mirrors_in_sync():
    r = subprocess.run([sys.executable, "tools/check_sync.py"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout

"""Summarise a pytest JUnit XML file: wall time per notebook and per test folder (slowest first)."""
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict

totals: dict = defaultdict(float)
for case in ET.parse(sys.argv[1] if len(sys.argv) > 1 else ".test-results.xml").iter("testcase"):
    cls = case.get("classname", "")
    name = case.get("name", "")
    key = cls if cls.endswith(".ipynb") or "ipynb" in cls else cls.rsplit(".", 1)[0]
    if "ipynb" in name and "ipynb" not in key:
        key = name.split("::")[0]
    totals[key] += float(case.get("time", 0))
print("time per notebook / test module (s):")
for k, v in sorted(totals.items(), key=lambda kv: -kv[1])[:60]:
    print(f"{v:8.1f}  {k}")
print(f"{sum(totals.values()):8.1f}  total (summed over workers)")

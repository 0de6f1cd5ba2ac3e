"""Print the text outputs of a notebook (a quick review aid): python tools/show_outputs.py book/x.ipynb"""
import json
import sys

for path in sys.argv[1:]:
    nb = json.load(open(path))
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        for o in c.get("outputs", []):
            t = o.get("text") or o.get("data", {}).get("text/plain", "") or o.get("evalue", "")
            kinds = ",".join(k for k in o.get("data", {}) if k != "text/plain")
            print(f"[{i}] {o['output_type']} {kinds}: {''.join(t)[:700]}")

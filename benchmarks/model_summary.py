"""One table of the model-centric techniques against their dense/standard baselines, measured in
one run on this machine: parameters, bytes, FLOPs and interleaved step time (forward, backward,
optimizer step), each as a ratio to the baseline.

Usage: python benchmarks/model_summary.py [--full]
Writes benchmarks/results/model_summary.json (with provenance). Accuracy/loss effects need
training runs and are on the chapter's pages; this table is about cost.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel_lib.core import (FastCNN, GPT, GPTConfig, compare, count_flops, count_params, count_train_flops,  # noqa: E402
                            format_fingerprint, provenance, saved_activation_bytes, seed_everything)
from accel_lib.model.attention import SwapAttention  # noqa: E402
from accel_lib.model.channels_last import to_channels_last  # noqa: E402
from accel_lib.model.depthwise_separable import make_separable  # noqa: E402
from accel_lib.model.freezeout import freeze_units  # noqa: E402
from accel_lib.model.lora import add_lora  # noqa: E402
from accel_lib.model.low_rank import factorize_linears  # noqa: E402
from accel_lib.model.magnitude_pruning import magnitude_mask, prunable_weights  # noqa: E402
from accel_lib.model.moe import MixtureOfExperts  # noqa: E402
from accel_lib.model.qat import int8_weight_bytes, quantize_model  # noqa: E402
from accel_lib.model.quantized_optimizer import Adam8bit, optimizer_state_bytes  # noqa: E402
from accel_lib.model.stochastic_depth import linear_drop_rates  # noqa: E402


def step_fn(model, x, y, opt_fn=lambda p: torch.optim.AdamW(p, lr=1e-4)):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = opt_fn(params)

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        F.cross_entropy(out.flatten(0, -2), y.flatten()).backward()
        opt.step()
    step()
    return step, opt


def ratio_row(name, base, tech, x, y, repeats, opt_fns=(None, None), extra=None):
    fa, fb = (count_train_flops(m, x, y, lambda o, t: F.cross_entropy(o.flatten(0, -2), t.flatten(), reduction="none"))
              for m in (base, tech))
    sa, sb = (saved_activation_bytes(lambda m=m: m(x))["activations"] for m in (base, tech))
    oa = opt_fns[0] or (lambda p: torch.optim.AdamW(p, lr=1e-4))
    ob = opt_fns[1] or oa
    (step_a, opt_a), (step_b, opt_b) = step_fn(base, x, y, oa), step_fn(tech, x, y, ob)
    t = compare({"base": step_a, "tech": step_b}, repeats=repeats, warmup=1)
    row = {"technique": name,
           "params": count_params(tech) / count_params(base),
           "trainable_params": count_params(tech, True) / count_params(base, True),
           "train_flops": fb / fa,
           "activation_bytes": sb / sa,
           "optimizer_state_bytes": optimizer_state_bytes(opt_b) / optimizer_state_bytes(opt_a),
           "step_time": t["tech"].median / t["base"].median}
    row.update(extra or {})
    print(f"{name:34s} " + " ".join(f"{k} {v:.2f}" for k, v in row.items() if isinstance(v, float)), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="larger models and more repeats")
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    print(format_fingerprint())
    reps = 7 if args.full else 3
    seed_everything(0)
    ncfg = dict(vocab_size=65, block_size=256 if args.full else 128, n_layer=4, n_head=4, n_embd=128)
    gx = torch.randint(0, 65, (8, ncfg["block_size"]))
    gy = torch.randint(0, 65, (8, ncfg["block_size"]))
    widths = (32, 64, 128)
    cx, cy = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
    gpt = GPT(GPTConfig(**ncfg))
    cnn = FastCNN(widths)
    rows = []

    for impl in ("naive", "tiled", "linear"):
        m = copy.deepcopy(gpt)
        SwapAttention(impl).setup_model(m, None)
        rows.append(ratio_row(f"attention: {impl} vs SDPA", gpt, m, gx, gy, reps))
    m = copy.deepcopy(gpt)
    MixtureOfExperts(n_experts=4, top_k=1, capacity_factor=1.25).setup_model(m, None)
    rows.append(ratio_row("MoE 4 experts top-1 (GPT MLPs)", gpt, m, gx, gy, reps))
    m = copy.deepcopy(cnn)
    make_separable(m, 16)
    rows.append(ratio_row("depthwise-separable convs (CNN)", cnn, m, cx, cy, reps))
    m = to_channels_last(copy.deepcopy(cnn))
    rows.append(ratio_row("channels_last (CNN)", cnn, m, to_channels_last(cx), cy, reps))

    m = copy.deepcopy(cnn)
    with torch.no_grad():
        for _, w in prunable_weights(m)[:-1]:
            w.mul_(magnitude_mask(w, 0.8))
    nz = sum(int((w != 0).sum()) for _, w in prunable_weights(m)) / sum(w.numel() for _, w in prunable_weights(m))
    rows.append(ratio_row("80% magnitude-pruned (CNN, dense kernels)", cnn, m, cx, cy, reps,
                          extra={"nonzero_weights": nz}))
    m = copy.deepcopy(gpt)
    factorize_linears(m, 0.25, 64)
    rows.append(ratio_row("low-rank r=d/4 (GPT Linear layers)", gpt, m, gx, gy, reps))
    m = copy.deepcopy(gpt)
    add_lora(m, rank=8, alpha=16, targets=("qkv", "proj"))
    rows.append(ratio_row("LoRA r=8 on qkv, proj (GPT)", gpt, m, gx, gy, reps))
    m = copy.deepcopy(cnn)
    quantize_model(m, 8)
    rows.append(ratio_row("QAT int8 fake-quant (CNN)", cnn, m, cx, cy, reps,
                          extra={"int8_weight_bytes": int8_weight_bytes(m)["ratio"]}))
    rows.append(ratio_row("Adam8bit state (GPT)", gpt, copy.deepcopy(gpt), gx, gy, reps,
                          opt_fns=(lambda p: torch.optim.AdamW(p, lr=1e-4), lambda p: Adam8bit(p, lr=1e-4))))

    m = copy.deepcopy(cnn)
    for u in freeze_units(m)[:3]:
        for p in u.parameters():
            p.requires_grad_(False)
    rows.append(ratio_row("FreezeOut: stem + 2 blocks frozen (CNN)", cnn, m, cx, cy, reps))
    shallow = GPT(GPTConfig(**{**ncfg, "n_layer": 2}))
    rows.append(ratio_row("stacking stage: 2 of 4 layers (GPT)", gpt, shallow, gx, gy, reps))
    rates = linear_drop_rates(4, 0.5)
    exp_layers = 4 - sum(rates)
    part = GPT(GPTConfig(**{**ncfg, "n_layer": 3}))
    rows.append(ratio_row("stochastic depth: 3 of 4 blocks run (GPT)", gpt, part, gx, gy, reps,
                          extra={"expected_blocks_run_pL_0.5": exp_layers / 4}))

    cmd = "python benchmarks/model_summary.py" + (" --full" if args.full else "")
    out = {"provenance": provenance(cmd), "config": {"gpt": ncfg, "gpt_batch": 8, "cnn_widths": widths,
                                                     "cnn_batch": 64, "repeats": reps}, "rows": rows}
    path = ROOT / "benchmarks" / "results" / "model_summary.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

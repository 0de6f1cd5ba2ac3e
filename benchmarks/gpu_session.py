"""The GPU recordings of the system chapter, in one short run for a device session.

    python benchmarks/gpu_session.py                 # on a CUDA GPU: every part, a few minutes
    python benchmarks/gpu_session.py --parts precision compile
    python benchmarks/gpu_session.py --smoke --out /tmp/gpu.json   # CPU, tiny sizes: checks the code

Parts (each recorded under ``parts[name]`` of ``benchmarks/results/system_gpu.json`` with the
device and versions):

``precision``  ResNet-18 training step (batch 256, channels-last) in fp32, bf16 autocast and fp16 autocast with
               ``torch.amp.GradScaler``, timed interleaved; images/s, speedups, peak memory.
``compile``    ``torch.compile`` (inductor) on the three reference models' training steps: eager vs
               compiled step time, compile time (first call) and graph breaks.
``graphs``     CUDA graphs (``torch.cuda.make_graphed_callables``) on a small launch-bound step.
``transfer``   host-to-device copies: pageable vs pinned, blocking vs ``non_blocking``.
``memory``     measured CUDA peak of a ResNet-18 AdamW step against the memory model's prediction,
               and the peak with activation checkpointing on every block against none.

The speedrun's 94% target is a separate command: ``python benchmarks/speedrun.py cifar``.
``--smoke`` runs every part on the CPU at tiny sizes (parts that need CUDA report ``skipped``), so
that the tests catch a broken script before a device session spends its minutes on it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel_lib.core import FastCNN, compare, provenance, resnet18_cifar  # noqa: E402
from accel_lib.core.measure import cuda_peak_memory  # noqa: E402
from accel_lib.core.models import GPT, GPTConfig  # noqa: E402
from accel_lib.system.checkpointing import apply_activation_checkpointing  # noqa: E402
from accel_lib.system.compilation import apply_compile, graph_breaks, time_first_call  # noqa: E402
from accel_lib.system.memory_model import fit_activation_model, predict_memory  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "system_gpu.json"
PARTS = ("precision", "compile", "graphs", "transfer", "memory")


def _sizes(smoke: bool) -> dict:
    if smoke:
        return dict(batch=4, gpt_batch=2, gpt_t=16, repeats=1, copy_mb=1, make_resnet=lambda: FastCNN((8, 8, 8)))
    return dict(batch=256, gpt_batch=32, gpt_t=128, repeats=10, copy_mb=256, make_resnet=resnet18_cifar)


def _images(batch: int, device: torch.device) -> tuple:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=g).to(device)
    return x, torch.randint(0, 10, (batch,), generator=g).to(device)


def _train_step(model, opt, x, y, dtype=None, scaler=None):
    def step() -> None:
        with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = F.cross_entropy(model(x).float(), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def _timing(t) -> dict:
    return {"median_s": t.median, "min_s": min(t.times), "max_s": max(t.times), "n": len(t.times)}


def part_precision(device: torch.device, smoke: bool) -> dict:
    s = _sizes(smoke)
    x, y = _images(s["batch"], device)
    x = x.contiguous(memory_format=torch.channels_last)
    steps, models = {}, {}
    for mode, dtype in (("fp32", None), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
        torch.manual_seed(0)
        m = s["make_resnet"]().to(device).to(memory_format=torch.channels_last)   # as on the precision page
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        scaler = torch.amp.GradScaler(device.type) if mode == "fp16" else None
        steps[mode], models[mode] = _train_step(m, opt, x, y, dtype, scaler), m
    t = compare(steps, repeats=s["repeats"], warmup=2, device=device)
    out = {"batch": s["batch"], "model": type(models["fp32"]).__name__,
           "step": {k: _timing(v) for k, v in t.items()},
           "images_per_second": {k: s["batch"] / v.median for k, v in t.items()},
           "speedup_vs_fp32": {k: t["fp32"].median / v.median for k, v in t.items()}}
    if device.type == "cuda":
        out["peak_bytes"] = {k: cuda_peak_memory(f, device) for k, f in steps.items()}
    return out


def _gpt_step(device, s):
    cfg = GPTConfig(vocab_size=65, block_size=s["gpt_t"], n_layer=4, n_head=4, n_embd=128)
    m = GPT(cfg).to(device)
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 65, (s["gpt_batch"], s["gpt_t"]), generator=g).to(device)
    tgt = torch.randint(0, 65, (s["gpt_batch"], s["gpt_t"]), generator=g).to(device)
    return m, idx, tgt, lambda logits: F.cross_entropy(logits.flatten(0, 1), tgt.flatten())


def part_compile(device: torch.device, smoke: bool) -> dict:
    s = _sizes(smoke)
    backend = "aot_eager" if smoke else "inductor"   # smoke: trace only, no code generation
    out = {"backend": backend, "models": {}}
    x, y = _images(s["batch"], device)
    cases = {"FastCNN": (lambda: FastCNN((32, 64, 128)), x, lambda o: F.cross_entropy(o, y)),
             "ResNet-18": (s["make_resnet"], x, lambda o: F.cross_entropy(o, y))}
    for name, (make, inp, loss_of) in cases.items():
        out["models"][name] = _compile_case(make().to(device), inp, loss_of, backend, device, s["repeats"])
    m, idx, _, loss_of = _gpt_step(device, s)
    out["models"]["GPT"] = _compile_case(m, idx, loss_of, backend, device, s["repeats"])
    return out


def _compile_case(model, inp, loss_of, backend, device, repeats) -> dict:
    torch.manual_seed(0)
    breaks = graph_breaks(model, inp)
    compiled = apply_compile(model, backend=backend)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(net):
        def f() -> None:
            loss_of(net(inp)).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return f
    eager, comp = step(model), step(compiled)
    t_compile, _ = time_first_call(lambda: (comp(), torch.cuda.synchronize() if device.type == "cuda" else None))
    t = compare({"eager": eager, "compiled": comp}, repeats=repeats, warmup=2, device=device)
    return {"graphs": breaks["graphs"], "graph_breaks": breaks["breaks"], "break_reasons": breaks["reasons"][:3],
            "compile_seconds": t_compile, "step": {k: _timing(v) for k, v in t.items()},
            "speedup": t["eager"].median / t["compiled"].median}


def part_graphs(device: torch.device, smoke: bool) -> dict:
    if device.type != "cuda":
        return {"skipped": "CUDA graphs need a CUDA GPU"}
    s = _sizes(smoke)
    x, y = _images(32, device)   # a small batch: kernel launches, not arithmetic, dominate
    torch.manual_seed(0)
    eager_net = FastCNN((32, 64, 128)).to(device)
    graphed_net = FastCNN((32, 64, 128)).to(device)
    graphed_net.load_state_dict(eager_net.state_dict())
    graphed = torch.cuda.make_graphed_callables(graphed_net, (x,))
    opt_e = torch.optim.SGD(eager_net.parameters(), lr=0.01)
    opt_g = torch.optim.SGD(graphed_net.parameters(), lr=0.01)
    t = compare({"eager": _train_step(eager_net, opt_e, x, y), "graphed": _train_step(graphed, opt_g, x, y)},
                repeats=max(s["repeats"], 20), warmup=3, device=device)
    return {"batch": 32, "model": "FastCNN(32, 64, 128)", "step": {k: _timing(v) for k, v in t.items()},
            "speedup": t["eager"].median / t["graphed"].median}


def part_transfer(device: torch.device, smoke: bool) -> dict:
    if device.type != "cuda":
        return {"skipped": "host-to-device copies need a CUDA GPU"}
    s = _sizes(smoke)
    n = s["copy_mb"] * 2**20 // 4
    pageable, pinned = torch.randn(n), torch.randn(n).pin_memory()
    dst = torch.empty(n, device=device)
    fns = {"pageable": lambda: dst.copy_(pageable), "pinned": lambda: dst.copy_(pinned),
           "pinned_non_blocking": lambda: dst.copy_(pinned, non_blocking=True)}
    t = compare(fns, repeats=s["repeats"], warmup=2, device=device)
    gbps = {k: n * 4 / v.median / 1e9 for k, v in t.items()}
    # overlap: a copy issued non_blocking from pinned memory on a side stream while a matmul runs
    a = torch.randn(4096, 4096, device=device)
    side = torch.cuda.Stream()

    def serial() -> None:
        dst.copy_(pinned)
        a @ a

    def overlapped() -> None:
        with torch.cuda.stream(side):
            dst.copy_(pinned, non_blocking=True)
        a @ a
        torch.cuda.current_stream().wait_stream(side)
    t2 = compare({"serial": serial, "overlapped": overlapped}, repeats=s["repeats"], warmup=2, device=device)
    return {"megabytes": s["copy_mb"], "gb_per_s": gbps, "pinned_vs_pageable": gbps["pinned"] / gbps["pageable"],
            "copy_plus_matmul": {k: _timing(v) for k, v in t2.items()},
            "overlap_speedup": t2["serial"].median / t2["overlapped"].median}


def part_memory(device: torch.device, smoke: bool) -> dict:
    s = _sizes(smoke)
    x, y = _images(s["batch"], device)
    torch.manual_seed(0)
    model = s["make_resnet"]().to(device).train()
    act = fit_activation_model(model, lambda b: x[:b], "fp32", batches=(2, 4))
    n_params = sum(p.numel() for p in model.parameters())
    pred = predict_memory(n_params, s["batch"], "fp32", "adamw", activations=act)
    out = {"batch": s["batch"], "model": type(model).__name__, "predicted_bytes": pred}
    if device.type != "cuda":
        out["skipped"] = "measured peaks need CUDA memory statistics"
        return out
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    step = _train_step(model, opt, x, y)
    step()   # creates the optimizer state, so that the measured step is a steady-state one
    # resident before the step: parameters, optimizer state, the batch; the step adds gradients,
    # activations and temporaries on top
    resident = torch.cuda.memory_allocated(device)
    peak = resident + cuda_peak_memory(step, device)
    out["measured_peak_bytes"] = peak
    out["resident_bytes"] = resident
    out["prediction_error"] = pred["total"] / peak - 1
    ck_model = s["make_resnet"]().to(device).train()
    ck_model.load_state_dict(model.state_dict())
    apply_activation_checkpointing(ck_model, every=1)
    ck_opt = torch.optim.AdamW(ck_model.parameters(), lr=1e-3)
    ck_step = _train_step(ck_model, ck_opt, x, y)
    ck_step()
    ck_peak = cuda_peak_memory(ck_step, device)
    t = compare({"plain": step, "checkpointed": ck_step}, repeats=s["repeats"], warmup=1, device=device)
    out["checkpointing"] = {"peak_bytes": {"plain": peak, "checkpointed": ck_peak}, "peak_ratio": peak / ck_peak,
                            "step": {k: _timing(v) for k, v in t.items()},
                            "time_overhead": t["checkpointed"].median / t["plain"].median}
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on any device (checks the code paths)")
    ap.add_argument("--out", default=None, help=f"results file (default {OUT.relative_to(ROOT)})")
    a = ap.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not a.smoke:
        raise SystemExit("gpu_session.py records GPU figures and found no CUDA GPU; on a CPU, "
                         "`--smoke` checks the code at tiny sizes (results are not GPU figures).")
    out = Path(a.out) if a.out else OUT
    if a.smoke and out.resolve() == OUT.resolve():
        raise SystemExit("--smoke results are not GPU figures: pass --out to write them elsewhere.")
    results = json.loads(out.read_text()) if out.exists() else {"parts": {}}
    fns = {"precision": part_precision, "compile": part_compile, "graphs": part_graphs,
           "transfer": part_transfer, "memory": part_memory}
    for name in a.parts:
        t0 = time.time()
        try:
            r = fns[name](device, a.smoke)
        except Exception as e:  # keep the other parts: one failure must not cost the session
            if a.smoke:
                raise
            r = {"error": f"{type(e).__name__}: {e}"}
        r["wall_seconds"] = time.time() - t0
        r["provenance"] = provenance("python " + " ".join([Path(sys.argv[0]).as_posix()] + (argv or sys.argv[1:])))
        results["parts"][name] = r
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))   # after every part: a cut-off run keeps what it did
        print(name, json.dumps({k: v for k, v in r.items() if k != "provenance"})[:600], flush=True)
    return results


if __name__ == "__main__":
    os.environ.setdefault("TORCH_CUDNN_V8_API_LRU_CACHE_LIMIT", "10000")
    main()

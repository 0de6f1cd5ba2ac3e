"""Input-pipeline benchmark: batched on-device crop+flip (accel_lib) versus the same augmentation
as a per-image torchvision v2 pipeline behind a DataLoader, on real CIFAR-10 images.

Usage: python benchmarks/data_augment_pipeline.py [--full] [--workers N]
Writes benchmarks/results/data_augment_pipeline.json (images per second, ratio, provenance).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


from accel_lib.core import ImageLoader, compare, default_device, format_fingerprint, load_cifar10, provenance
from accel_lib.data import per_image_loader


def run(n: int, batch_size: int, workers: int, repeats: int, device) -> dict:
    d = load_cifar10()
    x, y = d.train_x[:n], d.train_y[:n]
    batched = ImageLoader(x, y, batch_size, crop_pad=2, flip=True, device=device)
    per_image = per_image_loader(x, y, batch_size, crop_pad=2, flip=True, num_workers=workers)

    def epoch_batched():
        for b in batched:
            b.x.sum()  # touch the data so nothing is left lazy

    def epoch_per_image():
        for xb, yb in per_image:
            xb.to(device).sum()

    t = compare({"per-image DataLoader": epoch_per_image, "batched on-device": epoch_batched},
                repeats=repeats, warmup=1, device=device)
    imgs = len(batched) * batch_size
    out = {k: {"median_s": v.median, "images_per_s": imgs / v.median, "times_s": v.times} for k, v in t.items()}
    out["speedup"] = t["per-image DataLoader"].median / t["batched on-device"].median
    out["settings"] = {"images": imgs, "batch_size": batch_size, "workers": workers, "augmentation":
                       "RandomCrop(32, padding=2, reflect) + RandomHorizontalFlip + normalise"}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="all 50,000 training images, 5 repeats")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader worker processes for the baseline")
    a = ap.parse_args()
    n, reps = (50_000, 5) if a.full else (5_000, 3)
    dev = default_device()
    print(format_fingerprint())
    res = run(n, 256, a.workers, reps, dev)
    for k in ("per-image DataLoader", "batched on-device"):
        print(f"{k:>22}: {res[k]['images_per_s']:9.0f} images/s")
    print(f"speedup of batched on-device augmentation: {res['speedup']:.1f}x on {dev}")
    res["provenance"] = provenance(" ".join(["python"] + sys.argv))
    out = Path(__file__).resolve().parent / "results" / "data_augment_pipeline.json"
    out.write_text(json.dumps(res, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()

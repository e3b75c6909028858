"""Embedding speed of WhisperNet v1 and v2 on CPU, in one run: parameter counts and ms per
clip at batch 1 and batch 32, with v1/v2 ratios, and what the recipe's ensemble of 3 v2
networks (the bundled model) costs against one.

    python benchmarks/embed_speed.py [--frames 24] [--repeats 20] [--threads N]

Clips are 30x18 grey, `--frames` long (24 = ~1 s at 25 fps). Each figure is the median of
`--repeats` timed forward passes after 3 warm-up passes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lipauth.models.registry import create_model

MODELS = {
    "whispernet_v1 (video + landmarks)": ("whispernet_v1", {}),
    "whispernet_v1 (video only)": ("whispernet_v1", {"use_landmarks": False}),
    "whispernet_v2 (SlowFast)": ("whispernet_v2", {}),
    "whispernet_v2, ensemble of 3": ("ensemble", {"members": [{"name": "whispernet_v2", "config": {}}] * 3}),
}


@torch.no_grad()
def ms_per_clip(model, batch: dict, repeats: int) -> float:
    for _ in range(3):
        model(batch)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(batch)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times) / batch["video"].shape[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = {}
    for label, (name, cfg) in MODELS.items():
        model = create_model(name, **cfg).eval()
        params = sum(p.numel() for p in model.parameters())
        res = {}
        for b in (1, 32):
            batch = {"video": torch.randn(b, 1, args.frames, 18, 30), "landmarks": torch.randn(b, args.frames, 48)}
            res[b] = ms_per_clip(model, batch, args.repeats)
        rows[label] = (params, res[1], res[32])
    print(f"embedding speed: 30x18 grey clips of {args.frames} frames, {args.threads} threads, median of {args.repeats} runs")
    print(f"{'model':<36}{'params':>12}{'ms/clip b=1':>14}{'ms/clip b=32':>14}")
    for label, (params, b1, b32) in rows.items():
        print(f"{label:<36}{params:>12,}{b1:>14.2f}{b32:>14.2f}")
    v1, v2 = rows["whispernet_v1 (video + landmarks)"], rows["whispernet_v2 (SlowFast)"]
    print(f"\nv1 / v2: params {v1[0] / v2[0]:.1f}x, batch 1 {v1[1] / v2[1]:.1f}x, batch 32 {v1[2] / v2[2]:.1f}x")
    e3 = rows["whispernet_v2, ensemble of 3"]
    print(f"ensemble of 3 / one v2: batch 1 {e3[1] / v2[1]:.1f}x, batch 32 {e3[2] / v2[2]:.1f}x")


if __name__ == "__main__":
    main()

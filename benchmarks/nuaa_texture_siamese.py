"""The seed's Siamese on texture input (issue #25, item 3, "beyond the anchor"): the same
network, loss and pairs as `benchmarks/nuaa_liveness.py`'s seed Siamese (lipauth.pad.liveness,
contrastive, real-real vs real-photo pairs per client), but each 64x64 face is turned into
three LBP code maps first (uniform LBP(8,1), LBP(8,2) and LBP(16,2), the codes the texture
model histograms, scaled to 0-255), so what it can learn is micro-texture, not the
person's or the session's appearance.

    python benchmarks/nuaa_texture_siamese.py [--data ../shared/data] [--epochs 10] [--seeds 0 1 2]

NUAA's official lists; the threshold is the EER point of the two train-list people held out
of training (VAL_CLIENTS, as nuaa_liveness.py), never the test list. Printed beside the
texture SVM (lipauth/assets/texture.pt) on the same test images.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from lipauth.corpora.shared import default_data_root

VAL_CLIENTS = ("0005", "0008")


def lbp_maps(crops: np.ndarray) -> np.ndarray:
    """(n, 64, 64, 3) uint8 RGB faces -> (n, 64, 64, 3) uint8 LBP code maps."""
    import cv2
    from skimage.feature import local_binary_pattern

    out = np.empty_like(crops)
    for i, face in enumerate(crops):
        grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
        for ch, (p, r, codes) in enumerate(((8, 1, 59), (8, 2, 59), (16, 2, 243))):
            out[i, ..., ch] = (local_binary_pattern(grey, p, r, "nri_uniform") * (255 / (codes - 1))).astype(np.uint8)
    return out


def main() -> None:
    from nuaa_liveness import report  # this folder is on the path when run as a script
    from lipauth.artifacts import TEXTURE_MODEL, bundled
    from lipauth.corpora.nuaa import read_nuaa
    from lipauth.pad.texture import TextureLiveness
    from lipauth.training.liveness import LivenessTrainConfig, train_liveness

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    train, _ = read_nuaa(args.data / "nuaa", "train", variant="normalized")
    test, _ = read_nuaa(args.data / "nuaa", "test", variant="normalized")
    as_maps = lambda ss: [replace(s, crops=lbp_maps(s.crops)) for s in ss]  # noqa: E731
    train_maps, test_maps = as_maps(train), as_maps(test)
    fit = [s for s in train_maps if s.client not in VAL_CLIENTS]
    val = [s for s in train_maps if s.client in VAL_CLIENTS]
    stack = lambda ss: np.concatenate([s.crops for s in ss])  # noqa: E731
    bona = lambda ss: np.array([s.bona_fide for s in ss])  # noqa: E731
    species = np.array([s.attack or "bona_fide" for s in test], object)
    rows = []
    for seed in args.seeds:
        t = time.time()
        torch.manual_seed(seed)
        net, _ = train_liveness(fit, LivenessTrainConfig(epochs=args.epochs, steps_per_epoch=60, seed=seed))
        score = lambda ss: net.embed(stack(ss)) @ net.reference  # noqa: E731
        rows.append(report(f"Siamese on LBP code maps, seed {seed}", score(val), bona(val), score(test_maps), bona(test), species) | {"seconds": round(time.time() - t)})
    texture = TextureLiveness.load(bundled(TEXTURE_MODEL))
    from lipauth.pad.texture import lbp_features

    rows.append(report("texture SVM, bundled", None, None, texture.decision(lbp_features(stack(test))), bona(test), species, texture.threshold))
    print(f"NUAA official test list: {int(bona(test).sum())} bona fide / {int((~bona(test)).sum())} photo images; thresholds from {', '.join(VAL_CLIENTS)} (Siamese) or the recipe's out-of-fold scores (SVM)\n")
    print("| model | APCER (%) | BPCER (%) | ACER (%) | BPCER @ APCER 5 % | BPCER @ APCER 1 % | test EER (%) | s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {100 * r['apcer']:.1f} | {100 * r['bpcer']:.1f} | {100 * r['acer']:.1f} | {100 * r['bpcer_at_apcer_5pct']:.1f} | {100 * r['bpcer_at_apcer_1pct']:.1f} | {100 * r['test_eer']:.1f} | {r.get('seconds', '')} |")


if __name__ == "__main__":
    main()

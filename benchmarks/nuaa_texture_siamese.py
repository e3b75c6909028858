"""The seed's Siamese on texture input (issue #25, item 3, "beyond the anchor"), two ways,
both with the seed's loss and pairs (contrastive, real-real positives and real-photo
negatives of one client, pytorch-metric-learning), scored by cosine to the mean embedding of
the training clients' real faces:

  LBP code maps   the seed's CNN (lipauth.pad.liveness) on three LBP code maps of each 64x64
                  face (uniform LBP(8,1), LBP(8,2), LBP(16,2), scaled to 0-255) instead of
                  its colours: micro-texture, not the person's or the session's appearance
  histograms      a two-layer MLP (833 -> 256 -> 64) on the texture model's own features
                  (lipauth.pad.texture.lbp_features), the SVM's input

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


def train_histogram_siamese(x: np.ndarray, bona: np.ndarray, client: np.ndarray, *, epochs: int, seed: int):
    """The MLP on (n, 833) histograms; returns embed(x) -> (n, 64) unit vectors, and the
    bona fide reference."""
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.losses import ContrastiveLoss

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean, std = x.mean(0), x.std(0) + 1e-6  # per-bin standardising for the network's sake (the SVM keeps them raw)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(256, 64))
    embed_t = lambda v: torch.nn.functional.normalize(net(torch.from_numpy(((v - mean) / std).astype(np.float32))), dim=1)  # noqa: E731
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = ContrastiveLoss(pos_margin=0.0, neg_margin=1.0, distance=LpDistance())
    clients = sorted(set(client[bona]) & set(client[~bona]))
    for _ in range(epochs * 60):
        rows, kinds, owners = [], [], []
        for ci, c in enumerate(rng.choice(clients, size=min(6, len(clients)), replace=False)):
            for kind in (True, False):
                pool = np.flatnonzero((client == c) & (bona == kind))
                rows += list(rng.choice(pool, 6))
                kinds += [kind] * 6
                owners += [ci] * 6
        kinds, owners = np.array(kinds), np.array(owners)
        same = owners[:, None] == owners[None, :]
        a1, p = np.nonzero(same & kinds[:, None] & kinds[None, :] & ~np.eye(len(kinds), dtype=bool))
        a2, n = np.nonzero(same & kinds[:, None] & ~kinds[None, :])
        net.train()
        t = lambda v: torch.as_tensor(v, dtype=torch.long)  # noqa: E731
        loss = loss_fn(embed_t(x[rows]), indices_tuple=(t(a1), t(p), t(a2), t(n)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()

    def embed(v: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return embed_t(v).numpy()

    ref = embed(x[bona]).mean(0)
    return embed, ref / np.linalg.norm(ref)


def main() -> None:
    from nuaa_liveness import VAL_CLIENTS, official_lists, report  # this folder is on the path when run as a script
    from lipauth.artifacts import TEXTURE_MODEL, bundled
    from lipauth.pad.texture import TextureLiveness
    from lipauth.training.liveness import LivenessTrainConfig, train_liveness

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    train, test, fit_raw, val_raw = official_lists(args.data / "nuaa")
    _, test_maps, fit, val = official_lists(args.data / "nuaa", lambda s: replace(s, crops=lbp_maps(s.crops)))
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
    from lipauth.pad.texture import lbp_features

    hist = lambda ss: lbp_features(stack(ss))  # noqa: E731
    x_fit, x_val, x_test = hist(fit_raw), hist(val_raw), hist(test)
    for seed in args.seeds:
        t = time.time()
        embed, ref = train_histogram_siamese(x_fit, bona(fit_raw), np.array([s.client for s in fit_raw]), epochs=args.epochs, seed=seed)
        rows.append(report(f"Siamese MLP on LBP histograms, seed {seed}", embed(x_val) @ ref, bona(val_raw), embed(x_test) @ ref, bona(test), species) | {"seconds": round(time.time() - t)})
    texture = TextureLiveness.load(bundled(TEXTURE_MODEL))
    rows.append(report("texture SVM, bundled", None, None, texture.decision(x_test), bona(test), species, texture.threshold))
    print(f"NUAA official test list: {int(bona(test).sum())} bona fide / {int((~bona(test)).sum())} photo images; thresholds from {', '.join(VAL_CLIENTS)} (Siamese) or the recipe's out-of-fold scores (SVM)\n")
    print("| model | APCER (%) | BPCER (%) | ACER (%) | BPCER @ APCER 5 % | BPCER @ APCER 1 % | test EER (%) | s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {100 * r['apcer']:.1f} | {100 * r['bpcer']:.1f} | {100 * r['acer']:.1f} | {100 * r['bpcer_at_apcer_5pct']:.1f} | {100 * r['bpcer_at_apcer_1pct']:.1f} | {100 * r['test_eer']:.1f} | {r.get('seconds', '')} |")


if __name__ == "__main__":
    main()

"""How to choose the texture model's C and gamma without the test list (issue #25, item 3):
every setting of a grid scored on NUAA's train list by leave-one-person-out cross-validation
(its out-of-fold AUC and EER, and the mean ACER of each held-out person at the EER threshold
of the others), beside the test list's EER and ACER at the out-of-fold threshold. The test
columns are diagnosis: a rule for choosing must be read off the train columns alone.

    python benchmarks/nuaa_texture_selection.py [--data ../shared/data] [--cache runs/nuaa-texture.npz]

Features (lipauth.pad.texture.lbp_features) are computed once and cached. Each SVC fit takes
seconds; the 30 settings x 9 folds take ~15-40 min on 2 cores.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from lipauth.corpora.shared import default_data_root

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
GAMMA_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def features(data: Path, cache: Path):
    from lipauth.corpora.nuaa import read_nuaa
    from lipauth.pad.texture import lbp_features

    if not cache.exists():
        train, _ = read_nuaa(data / "nuaa", "train", variant="normalized")
        test, _ = read_nuaa(data / "nuaa", "test", variant="normalized")
        f = lambda ss: lbp_features(np.concatenate([s.crops for s in ss]))  # noqa: E731
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, xtr=f(train), ytr=np.array([s.bona_fide for s in train]), gtr=np.array([s.client for s in train]), xte=f(test), yte=np.array([s.bona_fide for s in test]))
    d = np.load(cache, allow_pickle=True)
    return d["xtr"].astype(np.float64), d["ytr"].astype(bool), d["gtr"], d["xte"].astype(np.float64), d["yte"].astype(bool)


def acer(scores: np.ndarray, bona: np.ndarray, threshold: float) -> float:
    return float((np.mean(scores[~bona] >= threshold) + np.mean(scores[bona] < threshold)) / 2)


def main() -> None:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import LeaveOneGroupOut
    from sklearn.svm import SVC

    from lipauth.measure.metrics import eer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--cache", type=Path, default=Path("runs/nuaa-texture.npz"))
    args = ap.parse_args()
    x, y, g, xt, yt = features(args.data, args.cache)
    folds = list(LeaveOneGroupOut().split(x, y, g))
    print(f"train {len(y)} images of {len(set(g))} people, test {len(yt)}; leave-one-person-out")
    print("| C | gamma | train: OOF AUC | OOF EER (%) | per-person ACER (%) | test EER (%) | test ACER at the OOF threshold (%) |")
    print("|---|---|---|---|---|---|---|")
    for c, gamma in itertools.product(C_GRID, GAMMA_GRID):
        t0 = time.time()
        oof, fold = np.zeros(len(y)), np.zeros(len(y), int)
        for k, (tr, te) in enumerate(folds):
            m = SVC(C=c, gamma=gamma).fit(x[tr], y[tr])
            s = m.decision_function(x[te])
            oof[te], fold[te] = (s if m.classes_[1] else -s), k
        per = [acer(oof[fold == k], y[fold == k], eer(oof[fold != k], y[fold != k])[1]) for k in range(len(folds)) if y[fold == k].any() and (~y[fold == k]).any()]
        rate, threshold = eer(oof, y)
        m = SVC(C=c, gamma=gamma).fit(x, y)
        st = m.decision_function(xt)
        st = st if m.classes_[1] else -st
        print(f"| {c:g} | {gamma:g} | {roc_auc_score(y, oof):.3f} | {100 * rate:.1f} | {100 * np.mean(per):.1f} | {100 * eer(st, yt)[0]:.1f} | {100 * acer(st, yt, threshold):.1f} |  ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()

"""AV synchrony from the mouth's geometry (lipauth.pad.sync_geometry) beside the bundled
SyncNet, on the same trials, and the two combined by a logistic regression fitted leaving
each person out (issue #25, item 1: a first look, not a shipped check).

    python benchmarks/sync_folds.py prepare      # the lip clips, once (~10 min)
    python benchmarks/sync_geometry.py           # ~3 min on 2 cores

Trials: every prepared video clip in sync, with its audio 0.2 s and 0.5 s late, and with
another person's audio (lipauth.training.sync.attack_trials). AUC of in-sync against
the rest, per source and pooled. The bundled SyncNet was trained on grid-s2 and AVLetters:
its GRID figure is not held out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from benchmarks.sync_folds import load_people
    from lipauth.artifacts import SYNC_MODEL, bundled
    from lipauth.errors import LipauthError
    from lipauth.pad.avsync import SyncModel
    from lipauth.pad.sync_geometry import geometry_sync
    from lipauth.training.sync import attack_trials

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, default=Path("runs/sync-folds/clips"))
    args = ap.parse_args()
    videos, _ = load_people(args.clips)
    source = {(c.meta.clip_id, p): s for c, p, s in videos}
    model = SyncModel.load(bundled(SYNC_MODEL))
    rows = []
    for clip, kind in attack_trials([c for c, _, _ in videos], shifts_s=(0.2, 0.5), seed=0):
        person = clip.meta.speaker
        try:
            rows.append((person, source[(clip.meta.clip_id.split("+")[0], person)], kind == "in_sync", model.score(clip), geometry_sync(clip).score))
        except LipauthError:
            continue
    person = np.array([r[0] for r in rows])
    src = np.array([r[1] for r in rows])
    y = np.array([r[2] for r in rows])
    x = np.array([[r[3], r[4]] for r in rows])
    both = np.zeros(len(rows))
    for p in sorted(set(person)):  # the combiner never sees the person it scores
        out = person == p
        both[out] = LogisticRegression(class_weight="balanced").fit(x[~out], y[~out]).decision_function(x[out])
    print("| source | trials | in sync | people | SyncNet (bundled) AUC | geometry AUC | both, leave-one-person-out AUC |")
    print("|---|---|---|---|---|---|---|")
    for s in sorted(set(src)) + ["all"]:
        m = src == s if s != "all" else np.ones(len(rows), bool)
        if y[m].all() or not y[m].any():
            continue
        aucs = " | ".join(f"{roc_auc_score(y[m], v[m]):.3f}" for v in (x[:, 0], x[:, 1], both))
        print(f"| {s} | {m.sum()} | {y[m].sum()} | {len(set(person[m]))} | {aucs} |")


if __name__ == "__main__":
    main()

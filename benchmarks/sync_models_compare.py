"""Two AV-synchrony models on the same held-out clips: the test people of a sync recipe
(configs/avsync.yaml: people no model in the comparison trained or validated on, if both were
made by recipes with the same test split), each model at its own threshold.

    python benchmarks/sync_models_compare.py --old lipauth/assets/avsync.pt --new runs/avsync/avsync.pt \\
        [--config configs/avsync.yaml] [--data ../shared/data] [--cache runs/avsync]

Per test source: how many in-sync clips pass, how many pass with the audio 80 ms late (the
skew of capture devices, which should pass), 0.2 s and 0.5 s late, and with another
recording's audio (which should not), plus the utterance-level AUC over all of those.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from lipauth.clip import CropSpec
from lipauth.corpora.shared import default_data_root
from lipauth.errors import LipauthError
from lipauth.training.attacks import shift_audio, swap_audio
from lipauth.pad.avsync import SyncModel
from lipauth.recipes.pad import SyncRecipe, parse, source_clips
from lipauth.recipes import read_recipe

ROOT = Path(__file__).resolve().parents[1]
KINDS = (("in sync", None), ("80 ms late", 0.08), ("0.2 s late", 0.2), ("0.5 s late", 0.5), ("other audio", "swap"))


def trials(clips):
    for i, c in enumerate(clips):
        # another person's audio; where the clips name no other person (one speaker, or GRID
        # files without a speaker), another clip's, as the recipe's own evaluation does
        others = [o for o in clips if o.meta.speaker != c.meta.speaker] or [o for o in clips if o is not c]
        for kind, how in KINDS:
            if how is None:
                yield kind, c
            elif how == "swap":
                if others:
                    yield kind, swap_audio(c, others[i % len(others)])
            else:
                yield kind, shift_audio(c, how)


def table(models: dict[str, SyncModel], sets: dict[str, list]) -> None:
    print("| test set | model | threshold | " + " | ".join(f"{k} passing" for k, _ in KINDS) + " | AUC |")
    print("|---|---|---|" + "---|" * (len(KINDS) + 1))
    for name, clips in sets.items():
        rows = list(trials(clips))
        for label, m in models.items():
            scores, kinds = [], []
            for kind, clip in rows:
                try:
                    scores.append(m.score(clip))
                    kinds.append(kind)
                except LipauthError:
                    continue
            scores, kinds = np.array(scores), np.array(kinds)
            cells = []
            for k, _ in KINDS:
                sel = kinds == k
                cells.append(f"{int((scores[sel] >= m.threshold).sum())}/{int(sel.sum())}")
            real = np.isin(kinds, ("in sync", "80 ms late"))
            auc = roc_auc_score(real, scores) if real.any() and (~real).any() else float("nan")
            print(f"| {name} | {label} | {m.threshold:.2f} | " + " | ".join(cells) + f" | {auc:.3f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "avsync.yaml")
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--cache", type=Path, default=Path("runs/avsync"), help="where the recipe's preprocessed clips are (or go)")
    args = ap.parse_args()
    recipe = parse(SyncRecipe, read_recipe(args.config), str(args.config))
    crop = CropSpec(**recipe.crop)
    sets: dict[str, list] = {}
    for name, src in recipe.sources.items():
        test = [c for c in source_clips(args.data, args.cache, name, src, crop) if src.role_of(c) == "test"]
        if test:
            people = {c.meta.speaker for c in test} - {None}
            sets[f"{name} ({len(test)} clips, {len(people) or 'unnamed'} people)"] = test
    table({"old": SyncModel.load(args.old), "new": SyncModel.load(args.new)}, sets)


if __name__ == "__main__":
    main()

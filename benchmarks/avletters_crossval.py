"""The AVLetters comparison table: every model under the same k-fold cross-validation by
speaker (each speaker tested once, never trained on), pooled EER with a 95 % bootstrap CI
over speakers, for text-independent and text-dependent trials.

    python benchmarks/avletters_crossval.py [--folds 3] [--out runs/avletters_cv] [--only NAME ...]
    python benchmarks/avletters_crossval.py --leave-out 2 --only 0 1 3 7 9   # every pair of speakers tested

Writes OUT/table.md (the table in docs/results.md) and OUT/<row>/crossval.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lipauth.corpora.dataset import load_dataset
from lipauth.corpora.shared import default_data_root
from lipauth.training.config import load_config
from lipauth.training.crossval import crossval
from lipauth.clip import CropSpec

# The recipe trains an ensemble of 3 networks; the other v2 rows are one network, as measured.
ONE = {"train": {"ensemble": 1}}
ROWS = [
    # (row name, config, overrides)
    ("PCA on mean/std frames, cosine (baseline)", "configs/baseline_pca_avletters.yaml", {"model": {"whiten": False}}),
    ("PCA on mean/std frames, whitened, cosine", "configs/baseline_pca_avletters.yaml", {}),
    ("WhisperNet v1, video only (no landmarks in AVLetters)", "configs/whispernet_v1_avletters.yaml", {}),
    ("WhisperNet v2 SlowFast, one network (seed 0)", "configs/whispernet_v2_avletters.yaml", ONE),
    ("WhisperNet v2, slow pathway only", "configs/whispernet_v2_slow_avletters.yaml", {}),
    ("WhisperNet v2, fast pathway only", "configs/whispernet_v2_fast_avletters.yaml", {}),
    ("WhisperNet v2 without the whitening backend", "configs/whispernet_v2_avletters.yaml", {**ONE, "backend": None}),
    # "Lips only": each clip's brightness and contrast standardised away, so the per-speaker
    # recording session (lighting) cannot identify the speaker.
    ("PCA whitened, lips only (per-clip normalised)", "configs/baseline_pca_avletters.yaml", {"data": {"normalize": "clip"}}),
    ("WhisperNet v2, lips only (per-clip normalised)", "configs/whispernet_v2_avletters.yaml", {**ONE, "data": {"normalize": "clip"}}),
    ("WhisperNet v2 SlowFast, ensemble of 3 seeds (recommended recipe)", "configs/whispernet_v2_avletters.yaml", {}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root() / "avletters")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("runs/avletters_cv"))
    ap.add_argument("--only", nargs="*", help="row numbers (0-based) to run")
    ap.add_argument("--leave-out", type=int, default=0, help="test every group of this many speakers instead of --folds")
    args = ap.parse_args()
    lines = [
        "| model | TI EER (%) | 95 % CI | TD EER (%) | 95 % CI | wrong-phrase EER (%) | minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, (name, config, overrides) in enumerate(ROWS):
        if args.only and str(i) not in args.only:
            continue
        cfg = load_config(config, overrides)
        ds = load_dataset(args.data, "avletters", CropSpec(**cfg.data.crop))
        t = time.time()
        r = crossval(cfg, ds, args.out / f"row{i}", folds=args.folds, seed=0, progress=False, leave_out=args.leave_out)
        minutes = (time.time() - t) / 60
        ti, td = r.pooled["text_independent"], r.pooled["text_dependent"]
        wrong = r.pooled["wrong_phrase"].eer if "wrong_phrase" in r.pooled else float("nan")
        lines.append(
            f"| {name} | {100 * ti.eer:.2f} | {100 * ti.eer_ci95[0]:.2f}–{100 * ti.eer_ci95[1]:.2f} | {100 * td.eer:.2f} | "
            f"{100 * td.eer_ci95[0]:.2f}–{100 * td.eer_ci95[1]:.2f} | {100 * wrong:.1f} | {minutes:.1f} |"
        )
        print(lines[-1], flush=True)
    r0 = r
    ti, td = r0.pooled["text_independent"], r0.pooled["text_dependent"]
    lines.append("")
    lines.append(
        (f"leave-{args.leave_out}-speakers-out ({r0.n_folds} folds)" if args.leave_out else f"{args.folds}-fold") + f" cross-validation by speaker over {len(r0.speakers)} speakers; trials pooled over folds: "
        f"text-independent {ti.n_genuine} genuine / {ti.n_impostor} impostor, "
        f"text-dependent {td.n_genuine} / {td.n_impostor}. CIs: 500 bootstrap resamples of speakers."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

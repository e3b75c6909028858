"""Lip + voice on AVLetters: lip only, voice only, late fusion and early fusion, side by
side under the same 3-fold cross-validation by speaker (the folds of avletters_crossval.py).

    python benchmarks/lip_voice_fusion.py [--folds 3] [--out runs/lip_voice]

lip only:     configs/whispernet_v2_avletters.yaml (the recommended lip recipe, one network)
voice only:   configs/voice_avletters.yaml (x-vector-style network on the shipped MFCCs)
late fusion:  the sum of the two models' scores on the same trials (lipauth.eval.fusion)
early fusion: configs/lip_voice_avletters.yaml (one joint embedding, trained end to end)
Writes OUT/table.md (the table in docs/results.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lipauth.corpora.dataset import load_dataset
from lipauth.corpora.shared import default_data_root
from lipauth.eval.fusion import late_fusion
from lipauth.training.config import load_config
from lipauth.training.crossval import crossval
from lipauth.clip import CropSpec

ROWS = [("lip only (WhisperNet v2 recipe, one network)", "configs/whispernet_v2_avletters.yaml", "lip"), ("voice only", "configs/voice_avletters.yaml", "voice"), ("early fusion (joint embedding)", "configs/lip_voice_avletters.yaml", "early")]


def row(name: str, pooled: dict, minutes: float | None) -> str:
    """pooled: trial kind -> TrialResult (a cross-validation's, or late fusion's)."""
    ti, td = pooled["text_independent"], pooled["text_dependent"]
    wrong = pooled["wrong_phrase"].eer if "wrong_phrase" in pooled else float("nan")
    return (
        f"| {name} | {100 * ti.eer:.2f} | {100 * ti.eer_ci95[0]:.2f}–{100 * ti.eer_ci95[1]:.2f} | {100 * td.eer:.2f} | {100 * td.eer_ci95[0]:.2f}–{100 * td.eer_ci95[1]:.2f} | "
        f"{100 * wrong:.1f} | {'' if minutes is None else f'{minutes:.1f}'} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root() / "avletters")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("runs/lip_voice"))
    args = ap.parse_args()
    lines = ["| model | TI EER (%) | 95 % CI | TD EER (%) | 95 % CI | wrong-phrase EER (%) | minutes |", "|---|---|---|---|---|---|---|"]
    results = {}
    for name, config, key in ROWS:
        cfg = load_config(config, {"train": {"ensemble": 1}})  # one network per branch, as the table reports
        ds = load_dataset(args.data, "avletters", CropSpec(**cfg.data.crop))
        t = time.time()
        results[key] = crossval(cfg, ds, args.out / key, folds=args.folds, seed=0, progress=False)
        lines.append(row(name, results[key].pooled, (time.time() - t) / 60))
        print(lines[-1], flush=True)
        if key == "voice":
            fused = late_fusion([args.out / "lip", args.out / "voice"])  # their pooled score files
            lines.append(row("late fusion (sum of lip and voice scores)", fused, None))
            print(lines[-1], flush=True)
    r0 = results["lip"]
    ti, td = r0.pooled["text_independent"], r0.pooled["text_dependent"]
    lines += [
        "",
        f"{args.folds}-fold cross-validation by speaker over {len(r0.speakers)} speakers, the same folds and trials for every row: "
        f"text-independent {ti.n_genuine} genuine / {ti.n_impostor} impostor, "
        f"text-dependent {td.n_genuine} / {td.n_impostor}. CIs: 500 bootstrap resamples of speakers.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

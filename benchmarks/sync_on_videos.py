"""AV synchrony on the shared face videos as `verify --liveness` sees them: the verifier's
own crops (the bundled lip model's pipeline), the bundled sync model and its threshold.

    python benchmarks/sync_on_videos.py [--sync-model lipauth/assets/avsync.pt]

For grid-s2 (the sync model's training speaker) and grid-sample without lwbsza (unseen
speakers; 4 of its clips chose the threshold): how many genuine clips pass, and how many
pass with the audio delayed 0.5 s or replaced by another clip's audio, every ordered pair
(for grid-s2 the same man saying another sentence, the hardest dub). Beside each: what a
check that accepts everything would do (all pass).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lipauth.api import load_model
from lipauth.corpora.shared import default_data_root
from lipauth.pad.checks import create_check
from lipauth.training.attacks import shift_audio, swap_audio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--sync-model", type=Path, default=None)
    args = ap.parse_args()
    model, sync = load_model(), create_check("av_sync", args.sync_model).model
    sets = {
        "grid-s2": sorted((args.data / "grid-s2" / "video").glob("*.mpg")),
        "grid-sample (unseen)": [p for p in sorted((args.data / "grid-sample").glob("*.mpg")) if p.stem != "lwbsza"],
    }
    print(f"threshold {sync.threshold:.3f}")
    print("| videos | genuine passing | 0.5 s late passing | other clip's audio passing |\n|---|---|---|---|")
    for name, paths in sets.items():
        clips = [model.clip(p) for p in paths]
        n = len(clips)
        passing = lambda cs: sum(sync.score(c) >= sync.threshold for c in cs)  # noqa: E731
        genuine = passing(clips)
        late = passing([shift_audio(c, 0.5) for c in clips])
        dubbed = passing([swap_audio(c, o) for c in clips for o in clips if o is not c])
        pairs = n * (n - 1)
        print(f"| {name} | {genuine}/{n} | {late}/{n} (accept-all: {n}/{n}) | {dubbed}/{pairs} (accept-all: {pairs}/{pairs}) |", flush=True)


if __name__ == "__main__":
    main()

"""Lips across corpora (issue #14, item 1): does a lip model trained on every labelled
source hold better on people it never saw than the bundled one (AVLetters only)?

    python benchmarks/lips_across_corpora.py [--epochs 15] [--patience 6] [--ensemble 3 --refit] [--out runs/lips-across]

1. Crops: grid-s1, grid-s2, the CREMA-D sample and the talking faces go through the bundled
   model's pipeline (30x18 grey, padding 0.12) into OUT/crops/<source> (resumable);
   AVLetters' own crops are loaded as they are.
2. Windows: a clip longer than 4 s is cut into 2 s windows (most talking-face people have
   one long clip; its windows are one session, which flatters the genuine scores of those
   people alike for both models).
3. People: held out for testing are grid-s2, CREMA-D 1001 and every third talking-face
   person; 2 AVLetters speakers (John, Nicola) and 3 talking-face people choose the epoch;
   the rest train. No AVLetters speaker is tested: the bundled model saw all of them.
4. WhisperNet v2 with configs/default_model.yaml's settings (by default one network without
   refit, to fit 2 CPU cores; --ensemble 3 --refit is the bundled model's recipe), then every
   pair of held-out clips scored by it and by the bundled model: EER with a 95 % interval
   from resampling people, per source and pooled.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np

from lipauth.corpora.shared import default_data_root

SOURCES = {"grid-s1": ("grid", "grid-s1"), "grid-s2": ("grid", "grid-s2"), "crema-d": ("crema-d", "crema-d-sample"), "talking-faces": ("talking-faces", "talking-faces")}
WINDOW_S, LONG_S = 2.0, 4.0
VAL_AVLETTERS = ("John", "Nicola")


def person(source: str, clip) -> str:
    if source.startswith("grid"):
        return source  # a GRID folder is one speaker
    return f"{source}:{clip.meta.speaker}"


def windows(clip, source: str) -> list:
    """The clip, or its 2 s windows where it is longer than 4 s; labelled with its person."""
    who = person(source, clip)
    if clip.duration <= LONG_S:
        return [clip.with_meta(speaker=who)]
    n = int(round(WINDOW_S * clip.fps))
    cut = lambda a, i: None if a is None else a[i * n : (i + 1) * n]  # noqa: E731
    return [
        replace(clip, frames=cut(clip.frames, i), landmarks=cut(clip.landmarks, i), boxes=cut(clip.boxes, i), audio=None, extra={}, meta=replace(clip.meta, clip_id=f"{clip.meta.clip_id}_w{i}", speaker=who))
        for i in range(clip.n_frames // n)
    ]


def load_all(data: Path, out: Path, crop) -> dict[str, list]:
    from lipauth.corpora.dataset import load_dataset
    from lipauth.corpora.preprocess import preprocess_corpus, read_manifest
    from lipauth.corpora.cache import load_clip
    from lipauth.video.pipeline import PipelineConfig

    found = {"avletters": [c for c in load_dataset(data / "avletters", "avletters", crop).clips]}
    for name, (corpus, folder) in SOURCES.items():
        cache = out / "crops" / name
        preprocess_corpus(data / folder, cache, corpus, PipelineConfig(crop=crop), workers=2)
        rows = read_manifest(cache / "manifest.csv")
        clips = [load_clip(cache / r["file"]) for r in rows.values() if r["status"] == "done"]
        found[name] = [w for c in clips for w in windows(c, name)]
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--patience", type=int, default=None, help="epochs without a better validation EER before stopping (default: the recipe's 6)")
    ap.add_argument("--ensemble", type=int, default=1, help="networks of different seeds (the bundled model has 3)")
    ap.add_argument("--refit", action="store_true", help="after validation picks the epoch, train on the validation people too (as the bundled model)")
    ap.add_argument("--out", type=Path, default=Path("runs/lips-across"))
    args = ap.parse_args()
    from lipauth.api import LipModel, load_model
    from lipauth.corpora.dataset import Dataset
    from lipauth.measure.metrics import bootstrap_eer_ci, eer
    from lipauth.models.embedder import LipEmbedder
    from lipauth.training.config import load_config
    from lipauth.protocol import Split
    from lipauth.training.trainer import train

    bundled = load_model()
    clips = load_all(default_data_root(), args.out, bundled.embedder.crop)
    tf_people = sorted({c.meta.speaker for c in clips["talking-faces"]})
    test = {"grid-s2", "crema-d:1001", *tf_people[0::3]}
    val = {*VAL_AVLETTERS, *tf_people[1::3][:3]}
    everyone = [c for cs in clips.values() for c in cs]
    training = [c for c in everyone if c.meta.speaker not in test]
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "default_model.yaml", {"train": {"epochs": args.epochs, "ensemble": args.ensemble, "refit": args.refit, **({"patience": args.patience} if args.patience else {})}})
    people = sorted({c.meta.speaker for c in training})
    split = Split(tuple(p for p in people if p not in val), tuple(sorted(val)), ())
    print(f"training on {len(split.train)} people ({sum(c.meta.speaker in split.train for c in training)} clips), choosing the epoch on {len(split.val)}; testing on {len(test)} people")
    train(cfg, Dataset(training), args.out / "model", split=split)
    trained = LipModel(LipEmbedder.load(args.out / "model" / "model.pt"), "across-corpora")
    held = [(src, c) for src, cs in clips.items() for c in cs if c.meta.speaker in test]
    print("\n| source | model | EER % | 95 % CI | genuine / impostor | people |\n|---|---|---|---|---|---|")
    for name, model in (("bundled (AVLetters)", bundled), ("across corpora", trained)):
        emb = model.embedder.embed_clips([c for _, c in held])
        for source in ("grid-s2", "crema-d", "talking-faces", "pooled"):
            idx = [i for i, (s, _) in enumerate(held) if source == "pooled" or s == source]
            pairs = list(itertools.combinations(idx, 2))
            if len(pairs) < 2:
                continue
            sa = np.array([held[i][1].meta.speaker for i, _ in pairs])
            sb = np.array([held[j][1].meta.speaker for _, j in pairs])
            g = sa == sb
            s = np.array([emb[i] @ emb[j] for i, j in pairs])
            if g.all() or not g.any():
                print(f"| {source} | {name} | – | – | {g.sum()} / {(~g).sum()} | {len(set(sa) | set(sb))} |")
                continue
            lo, hi = bootstrap_eer_ci(s, g, sa, sb, n_boot=300)
            print(f"| {source} | {name} | {100 * eer(s, g)[0]:.2f} | {100 * lo:.1f}–{100 * hi:.1f} | {g.sum()} / {(~g).sum()} | {len(set(sa) | set(sb))} |")


if __name__ == "__main__":
    main()

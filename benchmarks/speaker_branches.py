"""Who is speaking, by lips, voice and face, on the real people in ../shared/data: one
table on the same trials (issue #14, items 2, 3 and 5 in part).

    python benchmarks/speaker_branches.py [--out docs/img/speaker_branches_det.png]

Clips: 30 of grid-s1, 30 of grid-s2, the CREMA-D sample (1 speaker, 6 clips) and the 29
talking faces (25 people), every pair of them a trial; LibriSpeech test-other (10 people x
10 utterances) for the voice alone. Per clip: the bundled lip model, the GE2E voice
encoder on the clip's own audio (lipauth.encoders.voice) and dlib's face encoder on 4
aligned chips (lipauth.encoders.face), all from one pipeline pass.

Rows: each branch alone (cosine), their plain mean, and a logistic-regression fusion of
the three scores fitted person-disjoint: people are split into 4 folds; the weights for a
fold's trials (both clips of people in that fold) are fitted on the trials of the other
folds' people. EER with a 95 % interval from resampling people, FNMR at FMR 1 % and 0.1 %.

Read it with what the encoders have seen: GE2E was trained on VoxCeleb1/2 and LibriSpeech
train-other, dlib's face model on ~7,500 people including celebrities, and the talking
faces' person labels were themselves made by matching faces with dlib's encoder. The lip
model was trained on AVLetters only: it never saw any of these people.
Embeddings are cached in runs/speaker-branches/ (delete it to recompute).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
from pathlib import Path

import numpy as np

from lipauth.corpora.shared import default_data_root
from lipauth.measure.metrics import bootstrap_eer_ci, eer, fnmr_at_fmr
from lipauth.scoring.fusion import cross_validated_llr

BRANCHES = ("lips", "voice", "face")
CACHE = Path("runs/speaker-branches/embeddings.json")


def video_clips(data: Path) -> list[tuple[Path, str, str]]:
    """(path, person, source) of every video clip in the table."""
    out = [(p, "grid-s1", "grid") for p in sorted((data / "grid-s1" / "video").glob("*.mpg"))[:30]]
    out += [(p, "grid-s2", "grid") for p in sorted((data / "grid-s2" / "video").glob("*.mpg"))[:30]]
    out += [(p, "crema-" + p.name.split("_")[0], "crema-d") for p in sorted((data / "crema-d-sample").glob("*.flv"))]
    with open(data / "talking-faces" / "manifest.csv") as f:
        out += [(data / "talking-faces" / r["file"], "tf-" + r["person"], "talking-faces") for r in csv.DictReader(f)]
    return out


def embed_everything(data: Path) -> dict[str, dict]:
    from rich.progress import track

    from lipauth.api import load_model
    from lipauth.encoders.face import FaceEncoder
    from lipauth.encoders.voice import VoiceEncoder
    from lipauth.video.pipeline import LipPipeline, PipelineConfig

    model = load_model()
    cfg = model.pipeline.config
    pipeline = LipPipeline(PipelineConfig(backend=cfg.backend, crop=cfg.crop, face_chips=4), backend=model.pipeline.backend)
    face, voice = FaceEncoder(), VoiceEncoder()
    out: dict[str, dict] = {}
    for path, person, source in track(video_clips(data), description="lips, voice and face of each video clip"):
        row: dict = {"person": person, "source": source}
        try:
            clip = pipeline.process(path)
            row["lips"] = model.embedder.embed_clips([clip])[0].tolist()
            for enc in (voice, face):
                v = enc.embed(clip)
                if v is not None:
                    row[enc.name] = v.tolist()
        except Exception as exc:  # a clip the pipeline refuses counts as a failure to acquire
            row["error"] = f"{type(exc).__name__}: {exc}"
        out[str(path)] = row
    import soundfile

    for path in track(sorted((data / "librispeech-test-other").glob("*/*.flac")), description="LibriSpeech voices"):
        wave, rate = soundfile.read(str(path), dtype="int16")
        v = voice.embed_wave(wave, rate)
        out[str(path)] = {"person": "ls-" + path.parent.name, "source": "librispeech", **({"voice": v.tolist()} if v is not None else {"error": "no speech"})}
    return out


def trials(emb: dict[str, dict], keys: list[str], branches: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Every pair of `keys` that all `branches` could embed: scores per branch, genuine, people."""
    ok = [k for k in keys if all(b in emb[k] for b in branches)]
    pairs = list(itertools.combinations(ok, 2))
    t = {b: np.array([np.dot(emb[a][b], emb[c][b]) for a, c in pairs]) for b in branches}
    t["genuine"] = np.array([emb[a]["person"] == emb[c]["person"] for a, c in pairs])
    t["a"] = np.array([emb[a]["person"] for a, _ in pairs])
    t["b"] = np.array([emb[c]["person"] for _, c in pairs])
    return t


def row(name: str, scores: np.ndarray, t: dict[str, np.ndarray], mask: np.ndarray | None = None) -> tuple[str, tuple]:
    m = np.ones(len(scores), bool) if mask is None else mask
    s, g, a, b = scores[m], t["genuine"][m], t["a"][m], t["b"][m]
    if g.all() or not g.any():
        return f"| {name} | – | – | – | – | {g.sum()} / {(~g).sum()} | {len(set(a) | set(b))} |", (s, g)
    e = eer(s, g)[0]
    lo, hi = bootstrap_eer_ci(s, g, a, b, n_boot=300)
    f1, f01 = fnmr_at_fmr(s, g, 0.01)[0], fnmr_at_fmr(s, g, 0.001)[0]
    return f"| {name} | {100 * e:.2f} | {100 * lo:.2f}–{100 * hi:.2f} | {100 * f1:.1f} | {100 * f01:.1f} | {g.sum()} / {(~g).sum()} | {len(set(a) | set(b))} |", (s, g)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/img/speaker_branches_det.png"))
    args = ap.parse_args()
    data = default_data_root()
    if CACHE.is_file():
        emb = json.loads(CACHE.read_text())
    else:
        emb = embed_everything(data)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_text(json.dumps(emb))
    failed = {Path(k).name: v["error"] for k, v in emb.items() if "error" in v}
    missing = {b: sum(1 for v in emb.values() if v["source"] != "librispeech" and "error" not in v and b not in v) for b in BRANCHES}
    print(f"clips refused by the pipeline: {len(failed)} {sorted(failed)}; video clips a branch could not embed: {missing}\n")
    header = "| rows | EER % | 95 % CI | FNMR @ FMR 1 % | FNMR @ FMR 0.1 % | genuine / impostor | people |\n|---|---|---|---|---|---|---|"
    video = [k for k, v in emb.items() if v["source"] != "librispeech"]
    t = trials(emb, video, BRANCHES)
    fused, scored = cross_validated_llr({b: t[b] for b in BRANCHES}, t["genuine"], t["a"], t["b"])
    mean = sum(t[b] for b in BRANCHES) / len(BRANCHES)
    print("pooled over the video sources, the same trials in every row:\n" + header)
    curves = {}
    for name, scores, mask in [*((b, t[b], None) for b in BRANCHES), ("mean of the three", mean, None), ("LR fusion, person-disjoint (its trials only)", fused, scored), ("lips on the same trials", t["lips"], scored)]:
        line, curve = row(name, scores, t, mask)
        print(line)
        curves[name] = curve
    for source in ("grid", "crema-d", "talking-faces"):
        ts = trials(emb, [k for k in video if emb[k]["source"] == source], BRANCHES)
        print(f"\n{source}:\n{header}")
        for b in BRANCHES:
            print(row(b, ts[b], ts)[0])
    tl = trials(emb, [k for k, v in emb.items() if v["source"] == "librispeech"], ("voice",))
    print(f"\nLibriSpeech test-other, voice only:\n{header}\n{row('voice', tl['voice'], tl)[0]}")
    from lipauth.eval.plots import det_plot

    det_plot(curves, args.out, "lips, voice, face and fused: pooled video trials")
    print(f"\nDET: {args.out}")


if __name__ == "__main__":
    main()

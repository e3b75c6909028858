"""Who is speaking, by lips, voice and face, on the real people in ../shared/data: one
table on the same trials (issue #14, items 2, 3 and 5 in part).

    python benchmarks/speaker_branches.py [--out docs/img/speaker_branches_det.png]

Clips: the first 30 of grid-s1, the 20 of grid-s2, the CREMA-D sample (1 speaker, 6 clips) and the 29
talking faces (25 people), every pair of them a trial; LibriSpeech test-other (10 people x
10 utterances) for the voice alone. Per clip: the bundled lip model, the GE2E voice
encoder on the clip's own audio (lipauth.encoders.voice) and dlib's face encoder on the
aligned chips a verify uses (lipauth.encoders.face.CHIPS_PER_CLIP), all from one pipeline pass.

Rows: each branch alone (cosine); the lips of the non-learned baseline (PCA on the lip
crops' mean and std frames, fitted on AVLetters: configs/baseline_pca_avletters.yaml) beside
the bundled lip model (AVLetters only: the model the issue found); the plain mean of the
three cosines; late fusion, a logistic regression on the three scores (lipauth.scoring.fusion);
each modality calibrated on its own and the LLRs summed, a modality that fails across
recordings weighing 0 (the lips: the recipe's default since issue #24); early fusion, a joint embedding of the three vectors trained with a
contrastive loss (lipauth.scoring.joint). Both fusions are fitted person-disjoint: people
are split into 4 folds (the same folds for both); a fold's trials (both clips of people in
that fold) are scored by rules fitted on the other folds' people. EER with a 95 % interval
from resampling people, FNMR at FMR 1 % and 0.1 %.

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
from lipauth.encoders.face import CHIPS_PER_CLIP
from lipauth.measure.metrics import bootstrap_eer_ci, eer, fnmr_at_fmr
from lipauth.scoring.fusion import cross_validated_llr, session_weights

BRANCHES = ("lips", "voice", "face")
CACHE = Path(f"runs/speaker-branches/embeddings-v3-{CHIPS_PER_CLIP}chip.json")


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
    baseline = pca_baseline(data, model.pipeline.config.crop)
    cfg = model.pipeline.config
    pipeline = LipPipeline(PipelineConfig(backend=cfg.backend, crop=cfg.crop, face_chips=CHIPS_PER_CLIP), backend=model.pipeline.backend)
    face, voice = FaceEncoder(), VoiceEncoder()
    out: dict[str, dict] = {}
    for path, person, source in track(video_clips(data), description="lips, voice and face of each video clip"):
        row: dict = {"person": person, "source": source}
        try:
            clip = pipeline.process(path)
            row["lips"] = model.embedder.embed_clips([clip])[0].tolist()
            row["baseline"] = baseline.embed_clips([clip])[0].tolist()
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


def pca_baseline(data: Path, crop):
    """The non-learned baseline's recipe, fitted on every AVLetters clip, on the crop the
    bundled model's pipeline makes."""
    from lipauth.corpora.dataset import load_dataset
    from lipauth.models.baseline import PCABaseline
    from lipauth.training.config import load_config

    cfg = load_config("configs/baseline_pca_avletters.yaml")
    ds = load_dataset(data / "avletters", "avletters", crop)
    return PCABaseline(crop, n_components=cfg.model.settings.get("n_components", 64), normalize=cfg.data.normalize).fit(ds.clips)


def early_fusion(emb: dict[str, dict], keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The joint embedding's held-out LLRs on trials(emb, keys, BRANCHES)'s pairs."""
    from lipauth.scoring.joint import cross_validated_joint

    ok = [k for k in keys if all(b in emb[k] for b in BRANCHES)]
    return cross_validated_joint([emb[k]["person"] for k in ok], [{b: np.asarray(emb[k][b], np.float32) for b in BRANCHES} for k in ok])


def decision_costs(emb: dict[str, dict], keys: list[str]) -> str:
    """What one decision's fused LLR costs, from the vectors: late rules and a joint
    embedding fitted on these clips (medians of 200 calls), and the joint network's size."""
    import time

    from lipauth.scoring.fusion import ScoreFusion
    from lipauth.scoring.joint import JointFusion

    ok = [k for k in keys if all(b in emb[k] for b in BRANCHES)]
    people, rows = [emb[k]["person"] for k in ok], [{b: np.asarray(emb[k][b], np.float32) for b in BRANCHES} for k in ok]
    pairs = list(itertools.combinations(range(len(ok)), 2))
    late = ScoreFusion.fit({b: np.array([rows[i][b] @ rows[j][b] for i, j in pairs]) for b in BRANCHES}, np.array([people[i] == people[j] for i, j in pairs])).rule_for(BRANCHES)
    joint = JointFusion.fit(people, rows)

    def median_ms(call) -> float:
        times = []
        for n in range(200):
            i, j = pairs[n % len(pairs)]
            t = time.perf_counter()
            call(i, j)
            times.append(time.perf_counter() - t)
        return 1e3 * float(np.median(times))

    late_ms = median_ms(lambda i, j: late.llr({b: float(rows[i][b] @ rows[j][b]) for b in BRANCHES}))
    joint_ms = median_ms(lambda i, j: joint.llr(rows[i], rows[j]))
    size = sum(p.numel() for p in joint.net.parameters())
    return f"one fused LLR from the vectors: late rules {late_ms:.4f} ms, joint embedding {joint_ms:.3f} ms ({size:,} parameters)"


def trials(emb: dict[str, dict], keys: list[str], branches: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Every pair of `keys` that all `branches` could embed: scores per branch, genuine, people."""
    ok = [k for k in keys if all(b in emb[k] for b in branches)]
    pairs = list(itertools.combinations(ok, 2))
    t = {b: np.array([np.dot(emb[a][b], emb[c][b]) for a, c in pairs]) for b in branches}
    t["genuine"] = np.array([emb[a]["person"] == emb[c]["person"] for a, c in pairs])
    t["a"] = np.array([emb[a]["person"] for a, _ in pairs])
    t["b"] = np.array([emb[c]["person"] for _, c in pairs])
    # two talking-face clips are two recordings; GRID's and CREMA-D's clips are each one session per person
    session = {k: k if emb[k]["source"] == "talking-faces" else emb[k]["person"] for k in ok}
    t["across"] = np.array([session[a] != session[c] for a, c in pairs])
    t["source"] = np.array([emb[a]["source"] if emb[a]["source"] == emb[c]["source"] else "across" for a, c in pairs])
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
    t = trials(emb, video, (*BRANCHES, "baseline"))
    fused, scored = cross_validated_llr({b: t[b] for b in BRANCHES}, t["genuine"], t["a"], t["b"])
    weighted, _ = cross_validated_llr({b: t[b] for b in BRANCHES}, t["genuine"], t["a"], t["b"], weights=session_weights(t["genuine"], t["across"]))
    calibrated, _ = cross_validated_llr({b: t[b] for b in BRANCHES}, t["genuine"], t["a"], t["b"], weights=session_weights(t["genuine"], t["across"]), weigh=("voice", "face"))
    early, early_scored = early_fusion(emb, video)
    assert (early_scored == scored).all()  # the same folds, so the same held-out trials
    mean = sum(t[b] for b in BRANCHES) / len(BRANCHES)
    print("pooled over the video sources, the same trials in every row:\n" + header)
    curves = {}
    rows = [
        ("lips: non-learned baseline (PCA, AVLetters)", t["baseline"], None), ("lips: the bundled model (AVLetters)", t["lips"], None), ("voice", t["voice"], None), ("face", t["face"], None),
        ("mean of the three", mean, None), ("lips, on the fused rows' trials", t["lips"], scored), ("late fusion (LR), person-disjoint", fused, scored), ("late fusion, pairs across sessions weighted", weighted, scored), ("each modality calibrated, LLRs summed (the recipe's default)", calibrated, scored), ("early fusion (joint embedding), person-disjoint", early, scored),
    ]
    for name, scores, mask in rows:
        line, curve = row(name, scores, t, mask)
        print(line)
        curves[name] = curve
    for source in ("grid", "talking-faces"):  # CREMA-D's sample is one person: no impostor pair
        print(f"\n{source} (its pairs of clips; the fused rows on their held-out trials):\n{header}")
        within = t["source"] == source
        for name, scores, mask in rows:
            print(row(name, scores, t, within if mask is None else within & mask)[0])
    tl = trials(emb, [k for k, v in emb.items() if v["source"] == "librispeech"], ("voice",))
    print(f"\nLibriSpeech test-other, voice only:\n{header}\n{row('voice', tl['voice'], tl)[0]}")
    print("\n" + decision_costs(emb, video))
    from lipauth.eval.plots import det_plot

    det_plot(curves, args.out, "lips, voice, face and fused: pooled video trials")
    print(f"\nDET: {args.out}")


if __name__ == "__main__":
    main()

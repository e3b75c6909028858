"""AV synchrony on people the model never saw (issue #13, item 4): leave-people-out folds over
the talking faces, GRID and CREMA-D, the AV-synchrony network retrained per fold on everyone
else (AVLetters always trains), its threshold from validation people of the training side;
the bundled model scored on the same trials beside it.

    python benchmarks/sync_folds.py prepare --out runs/sync-folds/clips     # lip clips, once
    python benchmarks/sync_folds.py fold 0 --clips runs/sync-folds/clips --out runs/sync-folds [--device cuda]
    ...                                  fold 1 .. fold K-1 (independent: run them side by side)
    python benchmarks/sync_folds.py report --out runs/sync-folds
    python benchmarks/sync_folds.py transfer [--model F] [--before F] [--write-threshold OUT]   # nothing retrained
    python benchmarks/sync_folds.py ensemble --out runs/sync-folds-v2   # folds whose networks were kept

`prepare` runs the pipeline over every audio-visual source of --data (the GRID, CREMA-D and
talking-face videos) and writes AVLetters' crops with its shipped MFCCs beside them: a
folder that travels (to a GPU machine) without the videos. People: the talking faces' manifest
persons, the GRID speakers (grid-s1, grid-s2, and each grid-sample speaker, two of whom are
s1 and s2), CREMA-D's actor 1001. They are sorted by source and dealt round-robin into K
folds, so every fold holds people of every source. Fold f tests its people; half the people
of fold f+1 validate (the epoch and the threshold); the rest train.

Every test clip is scored as recorded (in sync), with its audio 0.2 s and 0.5 s late, and
with another test person's audio (swapped). Rates at each model's own threshold, per source,
pooled over the folds, with Wilson 95 % intervals; AUC and EER of in-sync against all the
out-of-sync versions; each fold's threshold, to show how much it moves.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from lipauth.corpora.shared import default_data_root

SHARED = {"grid-s1/video": "grid", "grid-s2/video": "grid", "grid-sample": "grid", "crema-d-sample": "crema-d", "talking-faces": "talking-faces"}
SAME_PERSON = {"lwbsza": "grid-s2", "bbaf2n": "grid-s1", "pwij3p": "grid:id2_vcd_swwp2s", "id2_vcd_swwp2s": "grid:id2_vcd_swwp2s"}


def prepare(data: Path, out: Path) -> None:
    from lipauth.clip import CropSpec
    from lipauth.corpora.cache import save_clip
    from lipauth.corpora.dataset import load_dataset
    from lipauth.corpora.preprocess import preprocess_corpus
    from lipauth.video.pipeline import PipelineConfig

    crop = CropSpec(30, 18)
    for folder, corpus in SHARED.items():
        s = preprocess_corpus(data / folder, out / folder.split("/")[0], corpus, PipelineConfig(crop=crop), workers=2)
        print(f"{folder}: {s.done + s.skipped} clips, {s.n_failed} failed", flush=True)
    for clip in load_dataset(data / "avletters", "avletters", crop).clips:
        save_clip(clip, out / "avletters" / "clips" / f"{clip.meta.clip_id}.npz")
    people = {}
    with (data / "talking-faces" / "manifest.csv").open() as fh:
        for row in csv.DictReader(fh):
            people[Path(row["file"]).stem] = row["source"].split(" ")[0]  # VoxCeleb2, LRS3, MEAD, HDTF-style
    (out / "talking-face-sources.json").write_text(json.dumps(people, indent=1))


def load_people(clips_dir: Path):
    """[(clip, person, source)] of the video sources, and the AVLetters clips."""
    from lipauth.corpora.cache import load_clip

    sources = json.loads((clips_dir / "talking-face-sources.json").read_text())
    videos = []
    for folder in ("grid-s1", "grid-s2", "grid-sample", "crema-d-sample", "talking-faces"):
        for path in sorted((clips_dir / folder / "clips").glob("*.npz")):
            clip = load_clip(path)
            cid = clip.meta.clip_id
            if folder == "talking-faces":
                person, source = f"tf:{clip.meta.speaker}", sources.get(cid, "talking-faces")
            elif folder == "crema-d-sample":
                person, source = "crema:1001", "CREMA-D"
            else:
                person, source = (folder if folder != "grid-sample" else SAME_PERSON.get(cid, f"grid:{cid}")), "GRID"
            videos.append((clip.with_meta(speaker=person), person, source))
    avletters = [load_clip(p) for p in sorted((clips_dir / "avletters" / "clips").glob("*.npz"))]
    return videos, avletters


def folds_of(videos, k: int) -> list[list[str]]:
    first_source = {}
    for _, person, source in videos:
        first_source.setdefault(person, source)
    people = sorted(first_source, key=lambda p: (first_source[p], p))
    return [people[i::k] for i in range(k)]


def run_fold(f: int, clips_dir: Path, out: Path, k: int, epochs: int, device: str, limit_train: int | None = None) -> None:
    import torch

    from lipauth.artifacts import SYNC_MODEL, bundled
    from lipauth.errors import LipauthError
    from lipauth.pad.avsync import SyncConfig, SyncModel
    from lipauth.training.sync import SyncTrainConfig, attack_trials, train_sync

    torch.set_num_threads(2)
    videos, avletters = load_people(clips_dir)
    folds = folds_of(videos, k)
    test_people, val_people = set(folds[f]), set(folds[(f + 1) % k][0::2])
    train = [c for c, p, _ in videos if p not in test_people | val_people] + avletters
    train = train[::max(1, len(train) // limit_train)] if limit_train else train  # a smoke test's few clips
    val = [c for c, p, _ in videos if p in val_people]
    test = [(c, p, s) for c, p, s in videos if p in test_people]
    t0 = time.time()
    model, info = train_sync(train, val, SyncConfig(window=9, tolerance=2), SyncTrainConfig(epochs=epochs, min_shift=4, device=device), progress=False)
    seconds = time.time() - t0
    old = SyncModel.load(bundled(SYNC_MODEL))
    source_of = {(c.meta.clip_id, p): (p, s) for c, p, s in test}  # an attacked clip's id starts with its video's
    rows = []
    for clip, kind in attack_trials([c for c, _, _ in test], shifts_s=(0.2, 0.5), seed=f):
        person, source = source_of[(clip.meta.clip_id.split("+")[0], clip.meta.speaker)]
        try:
            r = model.analyse(clip)  # the curve kept too: other scores, and ensembles with the bundled network, are read from it later
            rows.append({"fold": f, "person": person, "source": source, "clip": clip.meta.clip_id, "kind": kind, "new": r.score, "old": old.score(clip), "new_offsets": r.offsets, "new_distances": r.distances})  # noqa: E501
        except LipauthError as exc:
            rows.append({"fold": f, "person": person, "source": source, "clip": clip.meta.clip_id, "kind": kind, "error": str(exc)})
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "fold": f,
        "test_people": sorted(test_people),
        "val_people": sorted(val_people),
        "n_train_clips": len(train),
        "threshold": model.threshold,
        "old_threshold": old.threshold,
        "seconds": round(seconds),
        "history": info["history"],
        "rows": rows,
    }
    (out / f"fold{f}.json").write_text(json.dumps(summary, default=float))
    model.save(out / f"fold{f}.pt")
    print(f"fold {f}: {len(test_people)} people, {len(rows)} trials, threshold {model.threshold:.3f}, {seconds:.0f} s", flush=True)


def transfer(clips_dir: Path, out: Path, k: int, model_path: Path | None = None, before_path: Path | None = None, write_threshold: Path | None = None) -> None:
    """The same folds without training anything (issue #25, item 1). The sync model (the
    bundled one unless --model) is scored with its own score at offset 0 and at each person's
    capture skew, at the threshold in its file and at one set by leave-people-out cross-
    validation: each fold's threshold from the other folds' people by
    lipauth.training.sync.attack_threshold (at most 2 % of swapped audio and no 0.5 s-late
    clip passes). --before adds an older model file's rows beside it. Also the network's
    curve read within +-2 frames of 0, the mouth-geometry score (lipauth.pad.sync_geometry)
    and a logistic regression on both, at the EER point of the fold's validation people (half
    of the next fold's). The bundled SyncNet learned from grid-s2 and CREMA-D's actor 1001
    (configs/avsync.yaml), so only its talking-face and grid-s1 figures are on people it never
    saw. --write-threshold OUT: the model with the threshold the same rule sets on all the
    people (the shipped operating point)."""
    from sklearn.linear_model import LogisticRegression

    from lipauth.artifacts import SYNC_MODEL, bundled
    from lipauth.measure.metrics import eer
    from lipauth.pad.avsync import SyncModel, score_at
    from lipauth.training.sync import attack_threshold

    videos, _ = load_people(clips_dir)
    folds = folds_of(videos, k)
    models = {"now": SyncModel.load(model_path or bundled(SYNC_MODEL))}
    if before_path:
        models["before"] = SyncModel.load(before_path)
    curves = {name: trial_curves(videos, m, out) for name, m in models.items()}
    geometry = trial_geometry(videos, out)
    rows = []
    for key, c in curves["now"].items():
        if c is None or any(curves[n].get(key) is None for n in models) or geometry.get(key) is None:
            continue
        rows.append({"person": c["person"], "source": c["source"], "kind": c["kind"], "clip": key.split("|")[0].split("+")[0], "geometry": geometry[key], **{f"{n}_curve": curves[n][key] for n in models}})
    add_user_skew(rows, models)
    for r in rows:
        r["now_pm2"] = score_at(r["now_curve"]["offsets"], r["now_curve"]["distances"], (0,), 2, models["now"].cfg.null_from)
    results = []
    for f in range(k):
        test_people, val_people = set(folds[f]), set(folds[(f + 1) % k][0::2])
        val = [r for r in rows if r["person"] in val_people]
        test = [r for r in rows if r["person"] in test_people]
        rest = [r for r in rows if r["person"] not in test_people]
        y = np.array([r["kind"] == "in_sync" for r in val])
        thr = {m: eer(np.array([r[m] for r in val]), y)[1] for m in ("now_pm2", "geometry")}
        x = lambda rs: np.array([[r["now_pm2"], r["geometry"]] for r in rs])  # noqa: E731
        lr = LogisticRegression(class_weight="balanced").fit(x(val), y)
        thr["combined"] = eer(lr.decision_function(x(val)), y)[1]
        for n, m in models.items():
            thr[n] = thr[f"{n}_skew"] = float(m.threshold)
            thr[f"{n}_skew_cv"] = attack_threshold([r[n] for r in rest], [r["kind"] for r in rest])
        for r, c in zip(test, lr.decision_function(x(test)) if test else []):
            scores = {**r, "combined": float(c)}
            for n in models:
                scores[f"{n}_skew_cv"] = r[f"{n}_skew"]
            results.append({**scores, "fold": f, **{f"pass_{m}": bool(scores[m] >= t) for m, t in thr.items()}})
        print(f"fold {f}: test {len(test_people)} people ({len(test)} trials), validation {len(val_people)} people; thresholds " + ", ".join(f"{m} {t:.2f}" for m, t in thr.items()), flush=True)
    (out / "transfer.json").write_text(json.dumps([{k2: v for k2, v in r.items() if not k2.endswith("_curve")} for r in results]))
    report_rows(results, tuple(m for n in models for m in (n, f"{n}_skew", f"{n}_skew_cv")) + ("now_pm2", "geometry", "combined"), models)
    halves = [r for r in results if r["kind"] == "in_sync" and r["skew_from"] == "half"]
    print(f"\nuser's skew from their other clips for {sum(r['skew_from'] == 'others' for r in results if r['kind'] == 'in_sync')} genuine clips, from the clip's own first half for {len(halves)}")
    everyone = attack_threshold([r["now"] for r in rows], [r["kind"] for r in rows])
    print(f"the operating point on all {len({r['person'] for r in rows})} people ({len(rows)} trials): {everyone:.3f} (the file's: {models['now'].threshold:.3f})")
    if write_threshold:
        m = models["now"]
        m.threshold = everyone
        m.info["operating_point"] = {"rule": "at most 2 % of swapped audio and no 0.5 s-late clip pass", "people": len({r["person"] for r in rows}), "trials": len(rows), "by": "benchmarks/sync_folds.py transfer"}
        m.info["same_network_as"] = sorted({m.id, *m.info.get("same_network_as", [])})  # templates enrolled with it keep their skew
        m.save(write_threshold)
        print(f"wrote {write_threshold}")


def trial_curves(videos, model, out: Path) -> dict:
    """Every clip as recorded, 0.2 s and 0.5 s late, and with another person's audio, as
    run_fold makes them (a person's trials do not depend on the fold): the model's offset curve
    of each, and the best offset of a genuine clip's first half (a stand-in enrolment for a
    person with one clip); cached per model file."""
    from lipauth.errors import LipauthError
    from lipauth.training.sync import attack_trials

    cache = out / f"transfer-curves-{model.id[:12]}.json"
    done = json.loads(cache.read_text()) if cache.exists() else {}
    who = {c.meta.clip_id: (p, s) for c, p, s in videos}
    trials = attack_trials([c for c, _, _ in videos], shifts_s=(0.2, 0.5), seed=0)
    for i, (clip, kind) in enumerate(trials):
        key = f"{clip.meta.clip_id}|{kind}"
        if key in done:
            continue
        person, source = who[clip.meta.clip_id.split("+")[0]]
        try:
            r = model.analyse(clip)
            half = model.analyse(first_half(clip)).best_offset if kind == "in_sync" else None
        except LipauthError:
            done[key] = None
            continue
        done[key] = {"person": person, "source": source, "kind": kind, "offsets": r.offsets, "distances": r.distances, "best_offset": r.best_offset, "half_best_offset": half}
        if i % 50 == 49:
            out.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(done))
            print(f"{i + 1} of {len(trials)} trials scored", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(done))
    return done


def trial_geometry(videos, out: Path) -> dict:
    """The mouth-geometry score (+-2 frames) of the same trials, cached."""
    from lipauth.errors import LipauthError
    from lipauth.pad.sync_geometry import geometry_sync
    from lipauth.training.sync import attack_trials

    cache = out / "transfer-geometry.json"
    done = json.loads(cache.read_text()) if cache.exists() else {}
    for clip, kind in attack_trials([c for c, _, _ in videos], shifts_s=(0.2, 0.5), seed=0):
        key = f"{clip.meta.clip_id}|{kind}"
        if key not in done:
            try:
                done[key] = geometry_sync(clip, tolerance=2).score
            except LipauthError:
                done[key] = None
    out.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(done))
    return done


def first_half(clip):
    """The clip's first half, picture and sound (no face views: synchrony reads the mouth)."""
    from dataclasses import replace

    from lipauth.clip import AUDIO_RATE, FaceViews

    n = clip.n_frames // 2
    cut = lambda a: None if a is None else a[:n]  # noqa: E731
    audio = None if clip.audio is None else clip.audio[: int(n / clip.fps * AUDIO_RATE)]
    return replace(clip, frames=clip.frames[:n], landmarks=cut(clip.landmarks), boxes=cut(clip.boxes), audio=audio, views=FaceViews())


def add_user_skew(rows: list[dict], models: dict) -> None:
    """Each trial scored by each model at offset 0 (row[name]) and at its person's capture
    skew (row[name + "_skew"]; lipauth.pad.av_sync_check.capture_skew), learned from the best
    offsets of their other genuine clips, leaving out the clip the trial was made from; a
    person with no other clip enrols on the first half of this clip (its second half is then
    not held out from the skew, so their genuine rate is optimistic)."""
    from lipauth.pad.av_sync_check import capture_skew
    from lipauth.pad.avsync import score_at

    genuine = [r for r in rows if r["kind"] == "in_sync"]
    for r in rows:
        for name, model in models.items():
            curve = lambda g: g[f"{name}_curve"]  # noqa: E731
            others = [curve(g)["best_offset"] for g in genuine if g["person"] == r["person"] and g["clip"] != r["clip"]]
            own = next((curve(g) for g in genuine if g["clip"] == r["clip"]), None)
            enrolled = others or ([own["half_best_offset"]] if own and own["half_best_offset"] is not None else [])
            r["skew_from"] = "others" if others else "half"
            c, cfg = curve(r), model.cfg
            r[name] = score_at(c["offsets"], c["distances"], (0,), cfg.tolerance, cfg.null_from)
            r[f"{name}_skew"] = score_at(c["offsets"], c["distances"], capture_skew(enrolled) if enrolled else (0,), cfg.tolerance, cfg.null_from)


def report_rows(rows: list[dict], models: tuple[str, ...], files: dict) -> None:
    """Per source and pooled: each model's pass rates at its fold's threshold (pass_<model>),
    with Wilson 95 % intervals, and its AUC of in-sync against every out-of-sync version."""
    from sklearn.metrics import roc_auc_score

    names = {"now_pm2": "SyncNet, +-2 frames", "geometry": "mouth geometry, +-2 frames", "combined": "LR(SyncNet +-2, geometry)"}
    for n, m in files.items():
        score = f"null from {m.cfg.null_from}" if m.cfg.null_from else "spread"
        names |= {n: f"{n} ({score}), offset 0, threshold {m.threshold:.2f}", f"{n}_skew": f"{n} ({score}), user's skew, threshold {m.threshold:.2f}", f"{n}_skew_cv": f"{n} ({score}), user's skew, threshold by the other folds"}
    print("| source | model | people | genuine pass (95 % CI) | swapped pass (95 % CI) | 0.5 s late pass (95 % CI) | 0.2 s late pass | AUC |")
    print("|---|---|---|---|---|---|---|---|")
    for source in sorted({r["source"] for r in rows}) + ["all"]:
        mine = [r for r in rows if source in ("all", r["source"])]
        for m in models:
            cells = []
            for kind in ("in_sync", "swapped", "shift_0.5s", "shift_0.2s"):
                of = [r for r in mine if r["kind"] == kind]
                n_pass = sum(r[f"pass_{m}"] for r in of)
                lo, hi = wilson(n_pass, len(of))
                cells.append(f"{n_pass}/{len(of)} ({100 * lo:.0f}–{100 * hi:.0f} %)" if kind != "shift_0.2s" else f"{n_pass}/{len(of)}")
            real = np.array([r["kind"] == "in_sync" for r in mine])
            auc = roc_auc_score(real, [r[m] for r in mine]) if 0 < real.sum() < len(real) else float("nan")
            print(f"| {source} | {names[m]} | {len({r['person'] for r in mine})} | {' | '.join(cells)} | {auc:.3f} |", flush=True)


def wilson(k: int, n: int) -> tuple[float, float]:
    """The Wilson 95 % interval of k successes in n (SciPy's)."""
    from scipy.stats import binomtest

    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def report(out: Path) -> None:
    from sklearn.metrics import roc_auc_score

    from lipauth.measure.metrics import eer

    folds = [json.loads(p.read_text()) for p in sorted(out.glob("fold*.json"))]
    rows = [r for f in folds for r in f["rows"] if "error" not in r]
    thr = {f["fold"]: f["threshold"] for f in folds}
    old_thr = folds[0]["old_threshold"]
    print(f"{len(folds)} folds; thresholds per fold: {', '.join(f'{t:.2f}' for t in thr.values())} (bundled: {old_thr:.2f}); {sum(1 for f in folds for r in f['rows'] if 'error' in r)} trials not scorable\n")
    print("| source | model | people | in-sync clips | genuine pass (95 % CI) | swapped pass | 0.5 s late pass | 0.2 s late pass | AUC | EER (%) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for source in sorted({r["source"] for r in rows}) + ["all"]:
        mine = [r for r in rows if source in ("all", r["source"])]
        for model in ("new", "old"):
            passed = lambda r: r[model] >= (thr[r["fold"]] if model == "new" else old_thr)  # noqa: E731
            cells = []
            for kind in ("in_sync", "swapped", "shift_0.5s", "shift_0.2s"):
                of = [r for r in mine if r["kind"] == kind]
                k = sum(passed(r) for r in of)
                lo, hi = wilson(k, len(of))
                cells.append(f"{k}/{len(of)} ({100 * lo:.0f}–{100 * hi:.0f} %)" if kind == "in_sync" else f"{k}/{len(of)}")
            scores = np.array([r[model] for r in mine])
            real = np.array([r["kind"] == "in_sync" for r in mine])
            auc = roc_auc_score(real, scores) if 0 < real.sum() < len(real) else float("nan")
            e = eer(scores, real)[0] if 0 < real.sum() < len(real) else float("nan")
            name = "retrained per fold" if model == "new" else "bundled"
            n_people = len({r["person"] for r in mine})
            print(f"| {source} | {name} | {n_people} | {sum(real)} | {' | '.join(cells)} | {auc:.3f} | {100 * e:.1f} |")


def ensemble(clips_dir: Path, out: Path, k: int) -> None:
    """The folds whose networks were kept (their JSON has the test trials' curves): each test
    trial scored against the clip's own null by the bundled network, the fold's retrained one,
    and the two averaged (the mean offset curve is the ensemble's: each offset's distance is a
    mean over windows), at the bundled threshold and at each fold's own attack threshold
    (attack_threshold on the fold's test trials: a diagnosis of separability at the targets'
    operating point, not a held-out rate)."""
    from lipauth.artifacts import SYNC_MODEL, bundled
    from lipauth.errors import LipauthError
    from lipauth.pad.avsync import SyncModel, score_at
    from lipauth.training.sync import attack_threshold, attack_trials

    videos, _ = load_people(clips_dir)
    folds = folds_of(videos, k)
    shipped = SyncModel.load(bundled(SYNC_MODEL))
    null_from = shipped.cfg.null_from or 4
    print(f"| fold | people | network | genuine pass at {shipped.threshold:.2f} | swapped | 0.5 s late | threshold at <= 2 % swaps, none late | genuine pass there | swapped |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in sorted(out.glob("fold*.json")):
        fold = json.loads(path.read_text())
        rows = [r for r in fold["rows"] if "new_distances" in r]
        if not rows:
            continue
        test = [c for c, p, _ in videos if p in set(folds[fold["fold"]])]
        mine = {}
        for clip, _ in attack_trials(test, shifts_s=(0.2, 0.5), seed=fold["fold"]):  # the fold's own trials again
            try:
                mine[clip.meta.clip_id] = shipped.analyse(clip).distances
            except LipauthError:
                pass
        rows = [r for r in rows if r["clip"] in mine]
        kinds = np.array([r["kind"] for r in rows])
        curves = {"bundled": lambda r: np.asarray(mine[r["clip"]]), "retrained": lambda r: np.asarray(r["new_distances"])}
        curves["average of the two"] = lambda r: (curves["bundled"](r) + curves["retrained"](r)) / 2
        for name, curve in curves.items():
            scores = np.array([score_at(r["new_offsets"], list(curve(r)), (0,), 0, null_from) for r in rows])
            at = scores >= shipped.threshold
            t = attack_threshold(scores, kinds)
            there = scores >= t
            n = lambda kind, passed: f"{int(passed[kinds == kind].sum())}/{int((kinds == kind).sum())}"  # noqa: E731
            print(f"| {fold['fold']} | {len(fold['test_people'])} | {name} | {n('in_sync', at)} | {n('swapped', at)} | {n('shift_0.5s', at)} | {t:.2f} | {n('in_sync', there)} | {n('swapped', there)} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--data", type=Path, default=default_data_root())
    p.add_argument("--out", type=Path, default=Path("runs/sync-folds/clips"))
    p = sub.add_parser("fold")
    p.add_argument("f", type=int)
    p.add_argument("--clips", type=Path, default=Path("runs/sync-folds/clips"))
    p.add_argument("--out", type=Path, default=Path("runs/sync-folds"))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=14)
    p.add_argument("--device", default="cpu")
    p.add_argument("--limit-train", type=int, help="train on about this many clips (a quick check of the script)")
    p = sub.add_parser("report")
    p.add_argument("--out", type=Path, default=Path("runs/sync-folds"))
    p = sub.add_parser("transfer", help="the folds without training: a sync model at its threshold and at one from the other folds, geometry, a combiner")
    p.add_argument("--clips", type=Path, default=Path("runs/sync-folds/clips"))
    p.add_argument("--out", type=Path, default=Path("runs/sync-folds"))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--model", type=Path, help="a sync model file (default: the bundled one)")
    p.add_argument("--before", type=Path, help="an older sync model file, scored beside it")
    p.add_argument("--write-threshold", type=Path, help="write the model with the threshold set on all the people here")
    p = sub.add_parser("ensemble", help="folds whose networks were kept: bundled, retrained and their average, against the clip's own null")
    p.add_argument("--clips", type=Path, default=Path("runs/sync-folds/clips"))
    p.add_argument("--out", type=Path, default=Path("runs/sync-folds-v2"))
    p.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    if args.what == "prepare":
        prepare(args.data, args.out)
    elif args.what == "fold":
        run_fold(args.f, args.clips, args.out, args.folds, args.epochs, args.device, args.limit_train)
    elif args.what == "ensemble":
        ensemble(args.clips, args.out, args.folds)
    elif args.what == "transfer":
        transfer(args.clips, args.out, args.folds, args.model, args.before, args.write_threshold)
    else:
        report(args.out)


if __name__ == "__main__":
    main()

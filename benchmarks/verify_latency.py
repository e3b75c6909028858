"""End-to-end verify latency for a 3 s clip, broken down by stage, beside the same figures
for an earlier revision of lipauth measured in the same run.

    python benchmarks/verify_latency.py [--runs 20] [--video ../shared/data/grid-s2/video/bbilzs.mpg] [--baseline e826171]

Stages, timed on the same calls `Verifier.verify` makes: decode (PyAV; the earlier revision
also decoded the 16 kHz audio, which a lips-only verify now skips), landmarks (dlib, detect once then track), "decode + landmarks" (the pipeline's
step: tracking in this thread while decoding goes on in another; the earlier revision ran
them one after the other), crop (gap fill, ROI, resize), embed (the model's networks +
whitening) and score (template lookup, decryption, cosine). "total" is a separate call of
`Verifier.verify` itself, lips only, prepared as the service prepares it
(`Verifier.prepare_for_serving`: networks frozen, encoders warm); "total --liveness" one of `Verifier.verify(liveness=True)`,
the multimodal path (the lips, the audio against the mouth, the face), with the two checks
also timed alone. Where the voice and face encoders are installed, their branches are timed
alone on the same clip, and "total, lips+voice+face" is a verify with the bundled fusion
rules (the default decision) beside the lips-only "total" (--modalities lips). Medians of --runs runs after one warm-up.
Last, served verifies decoding in the serving child process (lipauth.video.decode_process, what
prepare_for_serving sets up) and in a thread as before, interleaved, --runs each.

The baseline is the earlier revision's own copy of this script, run from `git archive` of
--baseline in a subprocess on the same clip, model and machine just before the new path;
its stages print beside the new ones. --baseline none skips it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from lipauth.api import load_model
from lipauth.auth.store import TemplateStore
from lipauth.auth.verifier import Verifier
from lipauth.clip import ClipMeta, LipClip
from lipauth.corpora.shared import default_data_root
from lipauth.encoders.face import CHIPS_PER_CLIP
from lipauth.video.decode import InputLimits, decode_video
from lipauth.video.pipeline import MODEL_FPS
from lipauth.video.gaps import interpolate_gaps
from lipauth.video.roi import crop_frames, lip_boxes, normalise_to_boxes

TARGET_S = 0.2  # issues #16 and #24: a warm lips-only verify of this clip within 200 ms on 2 cores
FUSED_TARGET_S = 0.25  # issue #24: a warm lips+voice+face verify within 250 ms
# the last revision before issue #24 (the fused verify on 4 face chips); e826171 is the one
# before the lips' verify was made faster (issue #16)
BASELINE = "ab95758"
STAGES = ("decode", "landmarks", "decode + landmarks", "crop", "embed", "score", "total", "av_sync", "face_liveness", "total --liveness")
# the other modalities' branches (issue #14), timed on the same clip: new, so no baseline
BRANCHES = ("decode + landmarks + audio + face chips", "voice (GE2E)", f"face (dlib's ResNet in torch, {CHIPS_PER_CLIP} chip{'s' if CHIPS_PER_CLIP > 1 else ''})", "total, lips+voice+face")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--video", type=Path, default=default_data_root() / "grid-s2" / "video" / "bbilzs.mpg")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--baseline", default=BASELINE, help="git revision to measure beside this one, or 'none'")
    args = ap.parse_args()
    old = baseline_stages(args.baseline, args) if args.baseline != "none" else {}
    model = load_model(args.model)
    enrol = sorted(args.video.parent.glob(f"*{args.video.suffix}"))
    enrol = [p for p in enrol if p != args.video][:3]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("LIPAUTH_STORE_KEY", None)
        verifier = Verifier(model, TemplateStore(Path(tmp) / "t.db", create=True), modalities=("lips",), attempts=False)
        verifier.enroll("user", enrol)
        cfg = model.pipeline.config
        stages: dict[str, list[float]] = {k: [] for k in STAGES + BRANCHES}
        encoders = branch_encoders()
        checks = verifier.checks
        template = verifier.store.get("user")
        full_clip = model.clip(args.video)
        fused = None
        if encoders:  # the bundled rules (the default decision), the same enrolment
            fused = Verifier(model, TemplateStore(Path(tmp) / "f.db", create=True), modalities=("lips", "voice", "face"), attempts=False)
            fused.enroll("user", enrol)
        for v in (verifier, fused):  # as the service prepares them (frozen networks, warm encoders)
            if v is not None:
                v.prepare_for_serving()
        for i in range(args.runs + 1):
            t0 = time.perf_counter()
            video = decode_video(args.video, audio=False, max_seconds=cfg.max_seconds, near_fps=MODEL_FPS, max_pixels=cfg.max_pixels, max_bytes=cfg.max_frame_bytes, limits=InputLimits())
            t1 = time.perf_counter()
            model.pipeline.backend.track(video.grey, max_missing_run=cfg.max_gap + 1)
            t2 = time.perf_counter()
            video, track = model.pipeline.decode_and_track(args.video, audio=False)  # as a lips-only verify runs them
            t2b = time.perf_counter()
            points, _ = interpolate_gaps(track.points, max_gap=cfg.max_gap, max_missing_fraction=cfg.max_missing_fraction)
            boxes = lip_boxes(points, cfg.crop)
            clip = LipClip(frames=crop_frames(video.grey, boxes, cfg.crop), meta=ClipMeta(clip_id="probe"), fps=video.fps, landmarks=normalise_to_boxes(points, boxes), boxes=boxes)
            t3 = time.perf_counter()
            probe = model.embedder.embed_clips([clip])[0]
            t4 = time.perf_counter()
            score = float(verifier.store.get("user").mean @ probe)
            t5 = time.perf_counter()
            decision = verifier.verify("user", args.video)
            t6 = time.perf_counter()
            checks["av_sync"].run(full_clip)
            t7 = time.perf_counter()
            checks["face_liveness"].run(full_clip, template.check_state.get("face_liveness"))
            t8 = time.perf_counter()
            live = verifier.verify("user", args.video, liveness=True)
            t9 = time.perf_counter()
            assert abs(decision.score - score) < 1e-4 and abs(live.score - score) < 1e-4
            if i == 0:
                continue  # warm-up
            for k, v in zip(STAGES, (t1 - t0, t2 - t1, t2b - t2, t3 - t2b, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t8 - t7, t9 - t8)):
                stages[k].append(v)
            if encoders:
                t0 = time.perf_counter()
                rich = model.clip(args.video, audio=True, face_chips=CHIPS_PER_CLIP)
                t1 = time.perf_counter()
                encoders["voice"].embed(rich)
                t2 = time.perf_counter()
                encoders["face"].embed(rich)
                t3 = time.perf_counter()
                fused_decision = fused.verify("user", args.video)
                t4 = time.perf_counter()
                assert fused_decision.fused == ["lips", "voice", "face"]
                for k, v in zip(BRANCHES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                    stages[k].append(v)
        decoder_ab = decoder_in_a_child_or_thread(model, verifier, fused, args)
    n_frames = video.n_frames
    new = {k: 1000 * statistics.median(v) for k, v in stages.items()}
    print(f"verify latency: {args.video.name} ({n_frames} frames, {n_frames / video.fps:.1f} s, {video.grey.shape[2]}x{video.grey.shape[1]}), median of {args.runs} runs each")
    print(f"  {'stage':<20}{'baseline ' + args.baseline if old else '':>18}{'this revision':>16}")
    for k in STAGES:
        before = f"{old[k]:8.1f} ms" if k in old else ("-" if old else "")
        note = f"   (target {1000 * TARGET_S:.0f} ms: {'met' if new[k] <= 1000 * TARGET_S else 'NOT met'})" if k == "total" else ""
        print(f"  {k:<20}{before:>18}{new[k]:13.1f} ms{note}")
    if encoders:
        print(f"  other modalities (issue #14): {'stage':<38}")
        for k in BRANCHES:
            before = f"{old[k]:8.1f} ms" if k in old else ("-" if old else "")
            note = f"   (target {1000 * FUSED_TARGET_S:.0f} ms: {'met' if new[k] <= 1000 * FUSED_TARGET_S else 'NOT met'})" if k == BRANCHES[-1] else ""
            print(f"  {k:<44}{before:>14}{new[k]:13.1f} ms{note}")
        print(f"  model files: {model_sizes(model)}")
    print(f"  the liveness checks add {new['total --liveness'] - new['total']:.1f} ms to a verify; checks: {[(c.name, round(c.score, 3), c.passed) for c in live.checks]}")
    print(f"  score {decision.score:.3f}, accepted {decision.accepted}")
    for (how, which), v in sorted(decoder_ab.items()):
        print(f"  served verify, {which}, decoding in {how}: {1000 * statistics.median(v):.1f} ms (IQR {1000 * (np.percentile(v, 75) - np.percentile(v, 25)):.1f})")


def decoder_in_a_child_or_thread(model, verifier, fused, args) -> dict:
    """Verifies interleaved, decoding in the serving child (lipauth.video.decode_process) or
    in a thread as before: {(how, lips|fused): seconds}; empty where there is no child."""
    child = model.pipeline.decoder
    if child is None:
        return {}
    out: dict = {}
    for i in range(2 * args.runs):
        how = "the child" if i % 2 else "a thread"
        model.pipeline.decoder = child if how == "the child" else None
        for which, v in (("lips", verifier), ("lips+voice+face", fused)):
            if v is not None:
                t = time.perf_counter()
                v.verify("user", args.video)
                out.setdefault((how, which), []).append(time.perf_counter() - t)
    model.pipeline.decoder = child
    return out


def branch_encoders() -> dict:
    """The voice and face encoders, where their packages are installed."""
    try:
        from lipauth.encoders.face import FaceEncoder
        from lipauth.encoders.voice import VoiceEncoder

        return {"voice": VoiceEncoder(), "face": FaceEncoder()}
    except Exception as exc:  # resemblyzer missing: the lips' figures still stand
        print(f"(the other modalities are not timed: {exc})")
        return {}


def model_sizes(model) -> str:
    import importlib.util

    from lipauth.api import default_model_path

    sizes = {"lips (bundled model file)": default_model_path()}
    for package, name, label in (("resemblyzer", "pretrained.pt", "voice (GE2E)"), ("face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat", "face (dlib ResNet)")):
        spec = importlib.util.find_spec(package)
        if spec and spec.origin:
            sizes[label] = Path(spec.origin).parent / name
    return ", ".join(f"{k} {Path(v).stat().st_size / 1e6:.1f} MB" for k, v in sizes.items() if Path(v).is_file())


def baseline_stages(revision: str, args) -> dict[str, float]:
    """{stage: median ms} from the `revision`'s own verify_latency.py, run on the same clip."""
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(repo), "archive", revision], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        cmd = [sys.executable, "benchmarks/verify_latency.py", "--runs", str(args.runs), "--video", str(args.video.resolve())]
        if "--baseline" in (Path(tmp) / "benchmarks" / "verify_latency.py").read_text():
            cmd += ["--baseline", "none"]  # its own figures only, one column to read
        if args.model:
            cmd += ["--model", str(args.model.resolve())]
        env = {**os.environ, "PYTHONPATH": tmp, "LIPAUTH_DATA": str(default_data_root().resolve())}
        print(f"measuring {revision} first ...", flush=True)
        out = subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True, text=True).stdout
    stages = {m[1].strip(): float(m[2]) for m in re.finditer(r"^  (\S.*?)\s+([\d.]+) ms", out, re.M)}
    # the same stages under the names they had with 4 face chips (before issue #24)
    for before, now in (("decode + landmarks + audio + 4 face chips", BRANCHES[0]), ("face (dlib ResNet, 4 chips)", BRANCHES[2]), ("face (dlib ResNet, 1 chip)", BRANCHES[2])):
        if before in stages:
            stages[now] = stages.pop(before)
    # before the two ran at once, decode and landmarks ran one after the other
    if "decode" in stages and "landmarks" in stages and "decode + landmarks" not in stages:
        stages["decode + landmarks"] = stages["decode"] + stages["landmarks"]
    return stages

if __name__ == "__main__":
    main()

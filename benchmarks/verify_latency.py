"""End-to-end verify latency for a 3 s clip, broken down by stage, beside the 0.5 s target.

    python benchmarks/verify_latency.py [--runs 20] [--video ../shared/data/grid-s2/video/bbilzs.mpg]

Stages, timed on the same calls `Verifier.verify` makes: decode (PyAV, video + 16 kHz
audio), landmarks (dlib, detect once then track), crop (gap fill, ROI, resize), embed
(WhisperNet v2 + whitening) and score (template lookup, decryption, cosine). "total" is a
separate call of `Verifier.verify` itself; "total --liveness" one of
`Verifier.verify(liveness=True)`, with the two checks also timed alone (av_sync: MFCCs +
SyncNet over +-15 offsets; face_liveness: the Siamese CNN on 8 face crops). The figure
beside it is what the liveness checks add. Medians of --runs runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from lipauth.api import load_model
from lipauth.auth.store import TemplateStore
from lipauth.auth.verifier import Verifier
from lipauth.clip import ClipMeta, LipClip
from lipauth.corpora.shared import default_data_root
from lipauth.video.decode import InputLimits, decode_video
from lipauth.video.pipeline import MODEL_FPS
from lipauth.video.gaps import interpolate_gaps
from lipauth.video.roi import crop_frames, lip_boxes, normalise_to_boxes

TARGET_S = 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--video", type=Path, default=default_data_root() / "grid-s2" / "video" / "bbilzs.mpg")
    ap.add_argument("--model", type=Path, default=None)
    args = ap.parse_args()
    model = load_model(args.model)
    enrol = sorted(args.video.parent.glob(f"*{args.video.suffix}"))
    enrol = [p for p in enrol if p != args.video][:3]
    with tempfile.TemporaryDirectory() as tmp:
        import os

        os.environ.pop("LIPAUTH_STORE_KEY", None)
        verifier = Verifier(model, TemplateStore(Path(tmp) / "t.db", create=True))
        verifier.enroll("user", enrol)
        cfg = model.pipeline.config
        stages: dict[str, list[float]] = {k: [] for k in ("decode", "landmarks", "crop", "embed", "score", "total", "av_sync", "face_liveness", "total --liveness")}
        checks = verifier.checks
        template = verifier.store.get("user")
        full_clip = model.clip(args.video)
        for i in range(args.runs + 1):
            t0 = time.perf_counter()
            # as the pipeline decodes and tracks (lipauth.video.pipeline)
            video = decode_video(args.video, audio=cfg.audio, max_seconds=cfg.max_seconds, near_fps=MODEL_FPS, max_pixels=cfg.max_pixels, max_bytes=cfg.max_frame_bytes, limits=InputLimits())
            t1 = time.perf_counter()
            track = model.pipeline.backend.track(video.frames, max_missing_run=cfg.max_gap + 1)
            t2 = time.perf_counter()
            points, _ = interpolate_gaps(track.points, max_gap=cfg.max_gap, max_missing_fraction=cfg.max_missing_fraction)
            boxes = lip_boxes(points, cfg.crop)
            clip = LipClip(frames=crop_frames(video.frames, boxes, cfg.crop), meta=ClipMeta(clip_id="probe"), fps=video.fps, landmarks=normalise_to_boxes(points, boxes), boxes=boxes)
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
            for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t8 - t7, t9 - t8)):
                stages[k].append(v)
    n_frames = video.n_frames
    print(f"verify latency: {args.video.name} ({n_frames} frames, {n_frames / video.fps:.1f} s, {video.frames.shape[2]}x{video.frames.shape[1]}), median of {args.runs} runs")
    for k, v in stages.items():
        print(f"  {k:<17}{1000 * statistics.median(v):8.1f} ms" + (f"   (target {1000 * TARGET_S:.0f} ms: {'met' if statistics.median(v) <= TARGET_S else 'NOT met'})" if k == "total" else ""))
    added = statistics.median(stages["total --liveness"]) - statistics.median(stages["total"])
    print(f"  the liveness checks add {1000 * added:.1f} ms to a verify ({1000 * statistics.median(stages['total --liveness']):.1f} vs {1000 * statistics.median(stages['total']):.1f} ms); checks: {[(c.name, round(c.score, 3), c.passed) for c in live.checks]}")
    parts = sum(statistics.median(stages[k]) for k in ("decode", "landmarks", "crop", "embed", "score"))
    print(f"  sum of stage medians {1000 * parts:.1f} ms; score {decision.score:.3f}, accepted {decision.accepted}")


if __name__ == "__main__":
    main()

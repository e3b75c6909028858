"""Preprocessing speed, in ms per frame, all in one run on the same clips:

  decode only            PyAV decode of video + 16 kHz audio (what the pipeline starts with)
  pipeline, dlib         decode + detect-once-then-track landmarks + gap fill + crop
  pipeline, mediapipe    the same with FaceMesh
  seed (per-frame det.)  the same pipeline, but landmarks the way the WhisperNet seed got them:
                         face_recognition.face_locations(rgb, 1) + face_landmarks on every frame

Targets (issue #2): pipeline >= 10x faster than the seed, and within 4x of decoding only.

    python benchmarks/preprocess_speed.py [--per-corpus 3] [--data ../shared/data]

Figures are medians over clips of each clip's ms/frame; the ratios compare those medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from lipauth.corpora import get_corpus
from lipauth.corpora.shared import default_data_root
from lipauth.video.decode import decode_video
from lipauth.video.landmarks import LandmarkTrack
from lipauth.video.landmarks.dlib_backend import LIP_INDICES, model_path
from lipauth.video.pipeline import LipPipeline, PipelineConfig

CORPORA = [("crema-d", "crema-d-sample"), ("grid", "grid-sample"), ("grid", "grid-s2")]


class SeedLandmarks:
    """face_recognition's calls, verbatim in effect: HOG detection with upsample 1 on the RGB
    frame, then the 68-point predictor in the first face box, on every frame."""

    name = "seed"
    n_points = len(LIP_INDICES)

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(model_path()))

    def track(self, frames) -> LandmarkTrack:
        out = []
        for frame in frames:
            rects = self.detector(frame, 1)
            if len(rects) == 0:
                out.append(np.full((self.n_points, 2), np.nan, np.float32))
                continue
            shape = self.predictor(frame, rects[0])
            pts = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
            out.append(pts[LIP_INDICES])
        return LandmarkTrack(np.stack(out), np.ones(len(out), bool))


def clips(data: Path, per_corpus: int) -> list[Path]:
    chosen = []
    for corpus, folder in CORPORA:
        if not (data / folder).is_dir():
            print(f"skipping {folder}: not found under {data}", file=sys.stderr)
            continue
        items = get_corpus(corpus).items(data / folder)
        step = max(1, len(items) // per_corpus)
        chosen += [it.path for it in items[::step][:per_corpus]]
    return chosen


def time_per_frame(fn, path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn(path)
    return (time.perf_counter() - start) * 1000 / n, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--per-corpus", type=int, default=3, help="clips taken from each sample corpus")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    paths = clips(args.data, args.per_corpus)
    if not paths:
        sys.exit(f"no sample videos under {args.data}")
    pipelines = {
        "pipeline, dlib": LipPipeline(PipelineConfig(backend="dlib")),
        "pipeline, mediapipe": LipPipeline(PipelineConfig(backend="mediapipe")),
        "seed (per-frame det.)": LipPipeline(PipelineConfig(), backend=SeedLandmarks()),
    }
    runs = {"decode only": lambda p: decode_video(p).n_frames}
    runs.update({name: (lambda p, pl=pl: pl.process(p).n_frames) for name, pl in pipelines.items()})

    for fn in runs.values():  # warm-up: first model use, page cache, codec init
        fn(paths[0])
    per_clip: dict[str, list[float]] = {name: [] for name in runs}
    frames = 0
    print(f"{len(paths)} clips: " + ", ".join(p.name for p in paths), file=sys.stderr)
    for path in paths:
        for name, fn in runs.items():  # interleaved, so drift in machine load hits all alike
            ms, n = time_per_frame(fn, path)
            per_clip[name].append(ms)
        frames += n
        print(f"  {path.name}: " + "  ".join(f"{k} {v[-1]:.2f}" for k, v in per_clip.items()), file=sys.stderr)

    med = {name: statistics.median(v) for name, v in per_clip.items()}
    base = med["decode only"]
    seed = med["seed (per-frame det.)"]
    print(f"\npreprocess speed: {len(paths)} clips, {frames} frames, median over clips of ms/frame")
    print(f"{'stage':<24}{'ms/frame':>10}{'x decode':>10}{'seed / this':>13}")
    for name, value in med.items():
        print(f"{name:<24}{value:>10.2f}{value / base:>10.2f}{seed / value:>13.1f}")
    best = min(med["pipeline, dlib"], med["pipeline, mediapipe"])
    print(
        f"\ntarget: pipeline >= 10x faster than seed -> dlib {seed / med['pipeline, dlib']:.1f}x, "
        f"mediapipe {seed / med['pipeline, mediapipe']:.1f}x; within 4x of decode -> dlib "
        f"{med['pipeline, dlib'] / base:.2f}x, mediapipe {med['pipeline, mediapipe'] / base:.2f}x"
    )
    # Decode cost depends on resolution (GRID-sample 360x288 is cheap to decode, grid-s2
    # 720x576 is not), so the ratio to decoding differs by corpus: show it per corpus too.
    print("\nper corpus (median ms/frame; ratio to decode)")
    for folder in dict.fromkeys(p.parent.name if p.parent.name != "video" else p.parent.parent.name for p in paths):
        idx = [i for i, p in enumerate(paths) if folder in p.parts]
        row = {name: statistics.median(per_clip[name][i] for i in idx) for name in runs}
        d = row["decode only"]
        print(f"  {folder:<16}" + "  ".join(f"{name} {v:.2f} ({v / d:.1f}x)" for name, v in row.items()))
    if args.json:
        args.json.write_text(json.dumps({"clips": [str(p) for p in paths], "frames": frames, "median_ms_per_frame": med, "per_clip_ms_per_frame": per_clip, "best_pipeline": best}, indent=2))


if __name__ == "__main__":
    main()

"""Video that does not live, against the motion check (lipauth.pad.motion_check, issue #25
item 4): every shared face video with speech as recorded (genuine), and, from every other
one, four lifeless copies (lipauth.training.attacks.lifeless_frames: a still frame, a photo moved
in front of the camera, a clip frozen half way, a 12-frame loop), written as H.264 and read
back through the pipeline as a verify reads a probe. Pass rates per kind with Wilson 95 %
intervals; the bundled face liveness model beside it on the same clips.

    python benchmarks/still_video.py      # ~5 min on 2 cores

The check's two thresholds were set on these clips: the figures are not held-out ones.
"""

from __future__ import annotations

import csv
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from lipauth.corpora.shared import default_data_root


def wilson(k: int, n: int) -> tuple[float, float]:
    """The Wilson 95 % interval of k successes in n (SciPy's)."""
    from scipy.stats import binomtest

    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def videos(data: Path) -> list[Path]:
    out = sorted((data / "grid-s2" / "video").glob("*.mpg")) + sorted((data / "grid-s1" / "video").glob("*.mpg"))[:10] + sorted((data / "grid-sample").glob("*.mpg"))
    out += sorted((data / "crema-d-sample").glob("*.flv"))
    with open(data / "talking-faces" / "manifest.csv") as fh:
        out += [data / "talking-faces" / r["file"] for r in csv.DictReader(fh)]
    return out


def main() -> None:
    from rich.progress import track

    from lipauth.api import load_model
    from lipauth.errors import LipauthError
    from lipauth.training.attacks import LIFELESS, lifeless_frames
    from lipauth.pad.checks import PresentationChecks
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    model = load_model()
    checks = PresentationChecks.load(("motion", "face_liveness"))
    results: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    refused: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(track(videos(default_data_root()), description="genuine and lifeless videos")):
            probes = [("genuine", path)]
            if i % 2 == 0:
                try:
                    live = decode_video(path, audio=False, max_frames=75)
                except LipauthError:
                    continue
                frames = live.rgb()
                probes += [(kind, write_video(Path(tmp) / f"{i}_{kind}.mp4", lifeless_frames(frames, kind), live.fps, codec_options={"preset": "ultrafast"})) for kind in LIFELESS]
            for kind, probe in probes:
                try:
                    clip = model.clip(probe, thumbnails=True)
                except LipauthError:  # no face in the fake: refused before any check
                    refused[kind] += 1
                    continue
                ran = {c.name: c for c in checks.run(clip, None)[0]}
                results[kind].append((ran["motion"].passed, ran["face_liveness"].passed))
    print("| video | clips | passed the motion check (95 % CI) | passed face liveness (bundled) | refused by the pipeline (no face) |")
    print("|---|---|---|---|---|")
    for kind in ("genuine", *LIFELESS):
        r = np.array(results[kind], bool).reshape(-1, 2)
        k, n = int(r[:, 0].sum()), len(r)
        lo, hi = wilson(k, n)
        print(f"| {kind} | {n} | {k}/{n} ({100 * lo:.0f}–{100 * hi:.0f} %) | {int(r[:, 1].sum())}/{n} | {refused[kind]} |")


if __name__ == "__main__":
    main()

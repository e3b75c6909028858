"""`verify --liveness` on GRID s2 as a phone or a browser would upload it (issue #25, done
means: >= 19/20 genuine accepted, dubbed and shifted copies rejected): every grid-s2 clip
re-encoded to MP4 (H.264 + AAC), the speaker enrolled from the first three and each other
clip verified, then enrolled from the next three and the first three verified (so every clip
is a probe once, against a template it is not in): as it is, with its audio 0.5 s late, and with the next clip's audio (the same
man saying another sentence: the hardest dub), all written as MP4/AAC too.

    python benchmarks/verify_liveness_reencoded.py [--n 20] [--out runs/reencoded]

grid-s2 is not held out: the bundled lip and sync models learned from this speaker. What
the run shows is the verify path (decoding, AAC's priming delay, the capture skew learned at
enrolment, every check) on one person, not a rate on new people; for those see
`sync_folds.py transfer`. The bundled models at their shipped thresholds, the default
decision (lips + voice + face).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from lipauth.clip import AUDIO_RATE
from lipauth.corpora.shared import default_data_root


def reencode(src: Path, out: Path, audio: np.ndarray | None = None) -> Path:
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    v = decode_video(src)
    a = v.audio if audio is None else np.resize(audio, len(v.audio)) if len(audio) < len(v.audio) else audio[: len(v.audio)]
    return write_video(out, v.frames, v.fps, a, codec_options={"crf": "18"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--out", type=Path, default=None, help="keep the MP4s here (default: a temporary folder)")
    args = ap.parse_args()

    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    clips = sorted((args.data / "grid-s2" / "video").glob("*.mpg"))
    results: dict[str, list] = {"genuine": [], "0.5 s late": [], "dubbed": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        verifier = Verifier(load_model(), TemplateStore(Path(tmp) / "t.db", create=True), audit=False, attempts=False)
        for enrol, probes in ((clips[:3], clips[3:]), (clips[3:6], clips[:3])):
            template = verifier.enroll("s2", [reencode(p, out / f"{p.stem}.mp4") for p in enrol], mode="replace")
            print(f"enrolled from {', '.join(p.stem for p in enrol)} (MP4); AV synchrony's state: {template.check_state.get('av_sync')}")
            verify_all(verifier, probes, out, results)
    report(results)


def verify_all(verifier, probes: list[Path], out: Path, results: dict[str, list]) -> None:
    from rich.progress import track

    from lipauth.video.decode import decode_video

    audio = {p: decode_video(p).audio for p in probes}
    for i, p in enumerate(track(probes, description="verifying")):
        late = np.concatenate([np.zeros(AUDIO_RATE // 2, np.int16), audio[p]])
        videos = {
            "genuine": reencode(p, out / f"{p.stem}.mp4"),
            "0.5 s late": reencode(p, out / f"{p.stem}-late.mp4", late),
            "dubbed": reencode(p, out / f"{p.stem}-dub.mp4", audio[probes[(i + 1) % len(probes)]]),
        }
        for kind, video in videos.items():
            d = verifier.verify("s2", video, liveness=True)
            failed = [c.name for c in d.checks if c.status == "failed"]
            results[kind].append((p.stem, d.accepted, failed, d.checks[0].score if d.checks else float("nan")))


def report(results: dict[str, list]) -> None:
    for kind, rows in results.items():
        accepted = sum(a for _, a, _, _ in rows)
        print(f"{kind}: {accepted}/{len(rows)} accepted")
        for stem, a, failed, sync in rows:
            if a != (kind == "genuine"):
                print(f"  {stem}: {'accepted' if a else 'rejected'}; failed {', '.join(failed) or 'nothing'}; av_sync {sync:.2f}")


if __name__ == "__main__":
    main()

"""How well a spoken challenge tells a live answer from a replayed recording, on the GRID
recordings in ../shared/data (each file name says its sentence).

    python benchmarks/spoken_challenge.py [--data ../shared/data] [--random-per-clip 20] [--verify-clips 30]

Part 1, the recogniser alone, on every GRID clip: word and phrase accuracy of its single
best hypothesis, and the decision `verify --phrase` takes (the phrase is in the recogniser's
N-best list) for the right phrase, for another sentence of the same speaker (a replayed
recording of an earlier login) and for freshly issued random challenges.

Part 2, the whole decision (`Verifier.verify(..., phrase=...)`: identity, AV synchrony and the
phrase) for the grid-s2 and grid-s1 speakers, each enrolled from 3 of their clips: a live
answer says the challenge phrase, a replay is one of the speaker's other clips answering a
challenge it does not say. The baseline beside it is the same verifier without a challenge,
where the replay passes whenever the live answer would.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from lipauth.corpora.shared import default_data_root
from lipauth.errors import LipauthError
from lipauth.pad import challenge_phrases as phrases
from lipauth.pad.spoken_phrase_check import PhraseRecogniser
from lipauth.video.decode import decode_video

console = Console(soft_wrap=True, width=200)  # tables stay whole in a log file
SOURCES = ("grid-s1/video", "grid-s2/video", "grid-sample")


def recogniser_table(data: Path, per_clip: int) -> None:
    rec = PhraseRecogniser()
    rows = defaultdict(lambda: defaultdict(int))
    for source in SOURCES:
        files = sorted((data / source).glob("*.mpg"))
        phrases = [phrases.phrase_of_grid_file(f) for f in files]
        for i, f in enumerate(track(files, description=f"recognise {source}", console=console)):
            heard = rec.hear(decode_video(f, audio=True).audio)
            truth = phrases[i]
            r = rows[source]
            r["clips"] += 1
            r["words"] += sum(a == b for a, b in zip(heard.best.split(), truth.split()))
            r["phrases"] += heard.best == truth
            r["accepted"] += heard.rank_of(truth) is not None
            other = next((p for p in phrases[i + 1:] + phrases[:i] if p != truth), None)
            if other is not None:
                r["other_sentence_trials"] += 1
                r["other_sentence_accepted"] += heard.rank_of(other) is not None
            for _ in range(per_clip):
                challenge = phrases.random_phrase()
                if challenge != truth:
                    r["random_trials"] += 1
                    r["random_accepted"] += heard.rank_of(challenge) is not None
    t = Table(title="Spoken challenge: the recogniser alone (PocketSphinx en-us, GRID grammar, N-best)")
    for col in ("source", "clips", "word acc. (1-best)", "phrase acc. (1-best)", "right phrase accepted", "replay of another sentence rejected", "random challenges rejected"):
        t.add_column(col)
    total = defaultdict(int)
    for source, r in rows.items():
        for k, v in r.items():
            total[k] += v
        t.add_row(source, *_cells(r))
    t.add_row("all", *_cells(total))
    console.print(t)


def _cells(r) -> list[str]:
    n = r["clips"]
    rej_o = r["other_sentence_trials"] - r["other_sentence_accepted"]
    rej_r = r["random_trials"] - r["random_accepted"]
    return [
        str(n),
        f"{100 * r['words'] / (6 * n):.1f} %",
        f"{100 * r['phrases'] / n:.1f} %",
        f"{100 * r['accepted'] / n:.1f} % ({r['accepted']}/{n})",
        f"{100 * rej_o / max(1, r['other_sentence_trials']):.1f} % ({rej_o}/{r['other_sentence_trials']})",
        f"{100 * rej_r / max(1, r['random_trials']):.2f} % ({rej_r}/{r['random_trials']})",
    ]


def verify_table(data: Path, n_verify: int) -> None:
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    model = load_model()
    t = Table(title="Spoken challenge: the whole decision (identity + AV synchrony + phrase), enrolled from 3 clips")
    for col in ("speaker", "attempts", "live answer accepted", "replay rejected", "baseline: no challenge, replay rejected", "why live answers failed"):
        t.add_column(col)
    with tempfile.TemporaryDirectory() as tmp:
        verifier = Verifier(model, TemplateStore(Path(tmp) / "t.db", create=True), attempts=False)
        for source in ("grid-s2/video", "grid-s1/video"):
            files = sorted((data / source).glob("*.mpg"))
            user = source.split("/")[0]
            verifier.enroll(user, files[:3])
            probes = files[3:][:n_verify]
            live = replay = base = 0
            failed = defaultdict(int)
            for i, f in enumerate(track(probes, description=f"verify {user}", console=console)):
                truth = phrases.phrase_of_grid_file(f)
                try:
                    clip = model.clip(f)
                except LipauthError as exc:  # a failure to acquire: every attempt with this clip fails
                    failed[f"no clip ({exc.code})"] += 1
                    replay += 1
                    base += 1
                    continue
                d = verifier.verify(user, clip, phrase=truth)
                live += d.accepted
                if not d.accepted:
                    for c in d.checks:
                        failed[c.name] += not c.passed
                    failed["identity"] += d.score < d.threshold
                # the replay: this clip played back to answer the next clip's sentence
                other = phrases.phrase_of_grid_file(probes[(i + 1) % len(probes)])
                replay += not verifier.verify(user, clip, phrase=other).accepted
                base += not verifier.verify(user, clip, liveness=True, require_audio=True).accepted
            n = len(probes)
            why = ", ".join(f"{k} {v}" for k, v in failed.items() if v) or "-"
            t.add_row(user, str(n), f"{100 * live / n:.1f} % ({live}/{n})", f"{100 * replay / n:.1f} % ({replay}/{n})", f"{100 * base / n:.1f} % ({base}/{n})", why)
    console.print(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--random-per-clip", type=int, default=20, help="random challenges tried against each clip")
    ap.add_argument("--verify-clips", type=int, default=30, help="probe clips per speaker in part 2")
    ap.add_argument("--only", choices=("recogniser", "verify"))
    args = ap.parse_args()
    if args.only != "verify":
        recogniser_table(args.data, args.random_per_clip)
    if args.only != "recogniser":
        verify_table(args.data, args.verify_clips)


if __name__ == "__main__":
    main()

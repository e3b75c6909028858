"""Enrolled from one recording, verified on another recording of the same person (issue
#14's "a person filmed elsewhere is accepted and other people are not"), with fusion rules
that never saw these people.

    python benchmarks/cross_session.py

The 4 talking-face people with two recordings (p03: LRS3 then MEAD; p08: two MEAD takes;
p14, p24: two VoxCeleb2 videos each) are kept out of a fusion recipe fitted on grid-s1,
grid-s2 and the other talking faces. Each is enrolled from their first recording; each
second recording is then claimed as every one of the 4: 4 genuine and 12 impostor
attempts at the default operating point (eer). Beside the fused decision, the rows say
what the lips, the voice and the face would have scored alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lipauth.corpora.shared import default_data_root

PAIRS = {
    "p03": ("lrs3_00002.mp4", "mead_W040_level_3_happy_029.mp4"),
    "p08": ("mead_M003_level_1_disgusted_015.mp4", "mead_M003_level_1_happy_024.mp4"),
    "p14": ("voxceleb2_00002.mp4", "voxceleb2_517600055.mp4"),
    "p24": ("voxceleb2_741400104.mp4", "voxceleb2_741400163.mp4"),
}


def main() -> None:
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier
    from lipauth.fusion_recipe import run_fusion

    data = default_data_root()
    recipe = {
        "kind": "fusion",
        "sources": {
            "grid-s1": {"corpus": "grid", "path": "grid-s1", "speaker": "grid-s1", "max_clips": 10},
            "grid-s2": {"corpus": "grid", "path": "grid-s2", "speaker": "grid-s2", "max_clips": 10},
            "talking-faces": {"corpus": "talking-faces", "path": "talking-faces", "skip_people": list(PAIRS)},
        },
    }
    os.environ.pop("LIPAUTH_STORE_KEY", None)
    with tempfile.TemporaryDirectory() as tmp:
        made = run_fusion(recipe, data, Path(tmp) / "fusion", "cross-session recipe")
        print(made["report"]["table"], "\n")
        verifier = Verifier(load_model(made["model"]), TemplateStore(Path(tmp) / "t.db", create=True))
        for person, (first, _) in PAIRS.items():
            verifier.enroll(person, [data / "talking-faces" / first])
        print("| claimed | recording of | fused decision | LLR (threshold) | lips | voice | face |\n|---|---|---|---|---|---|---|")
        tally = {True: [0, 0], False: [0, 0]}  # genuine / impostor: [accepted, attempts]
        for claimed in PAIRS:
            for actual, (_, second) in PAIRS.items():
                d = verifier.verify(claimed, data / "talking-faces" / second)
                s = d.modality_scores
                tally[claimed == actual][0] += d.accepted
                tally[claimed == actual][1] += 1
                print(f"| {claimed} | {actual} | {'ACCEPT' if d.accepted else 'reject'} | {d.llr:+.2f} ({d.llr_threshold:+.2f}) | {s['lips']:.3f} | {s['voice']:.3f} | {s['face']:.3f} |")
    print(f"\ngenuine accepted {tally[True][0]}/{tally[True][1]}, impostors accepted {tally[False][0]}/{tally[False][1]}")


if __name__ == "__main__":
    main()

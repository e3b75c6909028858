"""Enrolled from one recording, verified on another recording of the same person (issue
#14's "a person filmed elsewhere is accepted and other people are not"), with fusion rules
that never saw the person.

    python benchmarks/cross_session.py

The 4 talking-face people with two recordings (p03: LRS3 then MEAD; p08: two MEAD takes;
p14, p24: two VoxCeleb2 videos each), one at a time: the fusion recipe's rules are fitted
on grid-s1, grid-s2 and every other talking face (the other 3 two-recording people give
the only genuine pairs across sessions), the person is enrolled from their first
recording, and their second recording is verified as them (genuine), the other three's
second recordings as them (impostors): 4 genuine and 12 impostor attempts at the default
operating point (eer), through `Verifier.verify`. Side by side: the lips alone (the bundled
model without fusion rules), score fusion with every pair weighted alike, score fusion with
the pairs across sessions weighted as much as those within (balance_sessions, the recipe's
default), early fusion (a joint embedding, lipauth.scoring.joint), and each modality calibrated
on its own with the LLRs summed (the recipe's default since issue #24). Then the model
card's check (grid-s2 enrolled from 3 clips against 17 genuine and 16 impostor clips) with
the lips alone and with the bundled fusion rules (the default; inside lipauth/assets/default_model.pt), at
this user's threshold (the default where the template has several clips) and at the rule's
one threshold.
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
RECIPE = {
    "kind": "fusion",
    "sources": {
        "grid-s1": {"corpus": "grid", "path": "grid-s1", "speaker": "grid-s1", "max_clips": 10},
        "grid-s2": {"corpus": "grid", "path": "grid-s2", "speaker": "grid-s2", "max_clips": 10},
        "talking-faces": {"corpus": "talking-faces", "path": "talking-faces", "sessions": "per_clip"},
    },
}


def main() -> None:
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier
    from lipauth.recipes.fusion import FusionRecipe, embed_sources, fit_rules

    data = default_data_root()
    recipe = FusionRecipe.model_validate(RECIPE)
    model = load_model()
    clips, _ = embed_sources(recipe, data, model, "cross-session")
    os.environ.pop("LIPAUTH_STORE_KEY", None)
    print("| fitting | person | genuine: fused LLR (threshold) → | lips | voice | face | impostors accepted |\n|---|---|---|---|---|---|---|")
    totals = {}
    fittings = {
        "the lips alone (the bundled model)": None, "one regression, every pair alike": {"method": "late", "balance_sessions": False},
        "one regression, pairs across sessions weighted": {"method": "late", "balance_sessions": True}, "early fusion (joint embedding)": {"method": "early"},
        "each modality calibrated, LLRs summed, the lips weighing 0 (configs/fusion.yaml)": {"method": "calibrated", "weigh": ["voice", "face"]},
    }
    for fitting, change in fittings.items():
        accepted, false_accepts = 0, 0
        for person, (first, second) in PAIRS.items():
            train = [c for c in clips if c.person != f"talking-faces:{person}"]
            fusion = fit_rules(train, recipe.model_copy(update=change), "cross-session")[0] if change else None
            with tempfile.TemporaryDirectory() as tmp:
                model.embedder.fusion = fusion.to_dict() if fusion else None
                path = model.embedder.save(Path(tmp) / "fused.pt")
                verifier = Verifier(load_model(path), TemplateStore(Path(tmp) / "t.db", create=True), attempts=False)
                verifier.enroll(person, [data / "talking-faces" / first])
                d = verifier.verify(person, data / "talking-faces" / second)
                impostors = [verifier.verify(person, data / "talking-faces" / other).accepted for p, (_, other) in PAIRS.items() if p != person]
            accepted += d.accepted
            false_accepts += sum(impostors)
            s = d.modality_scores
            if fusion is None:  # the lips' cosine and its threshold decide
                print(f"| {fitting} | {person} | lips {d.score:.3f} ({d.threshold:.3f}) {'ACCEPT' if d.accepted else 'reject'} | {d.score:.3f} | – | – | {sum(impostors)}/{len(impostors)} |")
            else:
                print(f"| {fitting} | {person} | {d.llr:+.2f} ({d.llr_threshold:+.2f}) {'ACCEPT' if d.accepted else 'reject'} | {s['lips']:.3f} | {s['voice']:.3f} | {s['face']:.3f} | {sum(impostors)}/{len(impostors)} |")
        totals[fitting] = (accepted, false_accepts)
    model.embedder.fusion = None
    for fitting, (a, f) in totals.items():
        print(f"{fitting}: genuine accepted {a}/{len(PAIRS)}, impostors accepted {f}/{len(PAIRS) * (len(PAIRS) - 1)}")
    one_studio(data)


def one_studio(data: Path) -> None:
    """The model card's check, with the lips alone (the default) and with the bundled fusion
    rules (--modalities lips,voice,face): grid-s2 enrolled from 3 clips, its 17 other clips
    verified (genuine), and the 16 clips of other people in grid-sample and crema-d-sample."""
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    s2 = sorted((data / "grid-s2" / "video").glob("*.mpg"))
    others = [p for p in sorted((data / "grid-sample").glob("*.mpg")) if p.name != "lwbsza.mpg"] + sorted((data / "crema-d-sample").glob("*.flv"))
    print("\n| grid-s2 enrolled from 3 clips | genuine accepted | impostors accepted | which |\n|---|---|---|---|")
    fused = ("lips", "voice", "face")
    decisions = (("the lips alone (--modalities lips)", ("lips",), None), ("the bundled fusion rules, this user's threshold (normalised scoring, the default)", fused, None), ("the bundled fusion rules, the rule's one threshold (--scoring raw)", fused, "raw"))
    for name, modalities, scoring in decisions:
        with tempfile.TemporaryDirectory() as tmp:
            verifier = Verifier(load_model(), TemplateStore(Path(tmp) / "t.db", create=True), modalities=modalities, scoring=scoring, attempts=False)
            verifier.enroll("s2", s2[:3])
            genuine = [verifier.verify("s2", p).accepted for p in s2[3:]]
            false = [p.name for p in others if verifier.verify("s2", p).accepted]
        print(f"| {name} | {sum(genuine)}/{len(genuine)} | {len(false)}/{len(others)} | {', '.join(false)} |")


if __name__ == "__main__":
    main()

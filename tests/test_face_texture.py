"""The face-liveness check `verify --liveness` runs by default: LBP texture (lipauth.pad.texture)
of the face crops, with the bundled model. On NUAA's official test list (real photographs
held in front of a webcam) and on the shared talking-face videos (real people)."""

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from lipauth.clip import ClipMeta, FaceViews, LipClip
from tests.conftest import need


@pytest.fixture(scope="module")
def check():
    from lipauth.pad.checks import create_check

    return create_check("face_liveness")


def _as_clip(crops: np.ndarray) -> LipClip:
    return LipClip(frames=np.zeros((12, 18, 30), np.uint8), meta=ClipMeta("x"), fps=25.0, views=FaceViews(crops=crops))


def nuaa_presentations(split: str, per: int = 8) -> list[tuple[np.ndarray, bool]]:
    """NUAA's images of one person in one session, in capture order, `per` at a time: the
    crops a clip of that presentation would carry."""
    from lipauth.corpora.nuaa import read_nuaa

    samples, _ = read_nuaa(need("nuaa"), split, variant="normalized")
    groups = defaultdict(list)
    for s in samples:
        person, glasses, pos, session, n = Path(s.source).stem.split("_")
        groups[(s.bona_fide, person, session)].append((int(n), s.crops[0]))
    out = []
    for (bona_fide, _, _), faces in sorted(groups.items()):
        faces = [f for _, f in sorted(faces, key=lambda x: x[0])]
        out += [(np.stack(faces[i : i + per]), bona_fide) for i in range(0, len(faces) - per + 1, per)]
    return out


def test_the_texture_check_tells_nuaa_photographs_from_live_faces(check):
    """Measured with the bundled model (docs/pad.md): per image, test EER 3.5 %; per
    presentation of 8 images (the median decides) the rates below are floors under it."""
    presentations = nuaa_presentations("test")
    results = [(check.run(_as_clip(crops)), bona_fide) for crops, bona_fide in presentations]
    live = [r.passed for r, b in results if b]
    photos = [r.passed for r, b in results if not b]
    assert len(live) >= 300 and len(photos) >= 500, (len(live), len(photos))
    assert np.mean(live) >= 0.9, np.mean(live)  # BPCER <= 10 %
    assert np.mean(photos) <= 0.05, np.mean(photos)  # APCER <= 5 %
    r = results[0][0]
    assert r.name == "face_liveness" and r.threshold == 0.0 and len(r.extra["margins"]) == 8 and "LBP texture of 8 face crops" in r.detail


def test_real_people_on_video_pass_the_texture_check(check):
    """Faces through the pipeline (landmark-framed 64x64 crops, not NUAA's eye-aligned ones):
    in the wild, in a studio, on the phone-quality CREMA-D clips. Measured: 49 of 49 clips."""
    from lipauth.video.pipeline import LipPipeline, PipelineConfig

    pipe = LipPipeline(PipelineConfig(face_crops=8))
    videos = ["talking-faces/voxceleb2_00373.mp4", "talking-faces/hdtf_obama.mp4", "talking-faces/mead_W015_level_1_neutral_030.mp4", "grid-s1/video/bbaf2n.mpg", "crema-d-sample/1001_DFA_ANG_XX.flv"]
    results = {v: check.run(pipe.process(need(v))) for v in videos}
    assert all(r.passed for r in results.values()), {v: r.detail for v, r in results.items()}


def test_a_clip_without_face_crops_is_not_run_and_the_state_is_nothing(check):
    r = check.run(LipClip(frames=np.zeros((12, 18, 30), np.uint8), meta=ClipMeta("x"), fps=25.0))
    assert r.status == "not_run" and "no face crops" in r.detail
    assert check.enrol([_as_clip(np.zeros((8, 64, 64, 3), np.uint8))]) is None

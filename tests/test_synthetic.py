import numpy as np
import pytest

from lipauth.corpora import get_corpus
from lipauth.corpora.synthetic import EMOTIONS, PHRASES, Identity, render, write_corpus
from lipauth.errors import TooFewFramesError
from lipauth.video.encode import write_video
from lipauth.clip import CropSpec


def _dark(frames):
    return (frames < 50).sum(axis=(1, 2))  # pixels of open mouth per frame


def test_phrases_open_and_close_the_mouth():
    rng = np.random.default_rng(0)
    ident = Identity.random(rng)
    frames = render(ident, "BAM", "NEU", rng)
    dark = _dark(frames)
    assert dark[0] == 0 and dark[-1] == 0  # closed at rest
    assert dark.max() > 20  # open on the A


def test_emotion_scales_amplitude_and_tempo():
    ident = Identity.random(np.random.default_rng(1))
    happy = render(ident, "BAM", "HAP", np.random.default_rng(2))
    sad = render(ident, "BAM", "SAD", np.random.default_rng(2))
    assert _dark(happy).max() > _dark(sad).max()
    assert len(happy) < len(sad)


def test_identities_look_different():
    rng = np.random.default_rng(3)
    a, b = Identity.random(rng), Identity.random(rng)
    fa = render(a, "BAM", "NEU", np.random.default_rng(4)).astype(float)
    fb = render(b, "BAM", "NEU", np.random.default_rng(4)).astype(float)
    n = min(len(fa), len(fb))
    assert np.abs(fa[:n] - fb[:n]).mean() > 10


def test_corpus_layout_and_the_lipcrops_reader(tmp_path):
    paths = write_corpus(tmp_path, n_speakers=2, repetitions=1)
    assert len(paths) == 2 * len(PHRASES) * len(EMOTIONS)
    reader = get_corpus("lipcrops")
    items = reader.items(tmp_path)
    assert {i.meta.speaker for i in items} == {"spk00", "spk01"} and {i.meta.phrase for i in items} == set(PHRASES)
    clip = reader.load(items[0], crop=CropSpec(30, 18))
    assert clip.frames.shape[1:] == (18, 30) and clip.landmarks is None


def test_lipcrops_refuses_too_short_videos(tmp_path):
    (tmp_path / "s").mkdir()
    write_video(tmp_path / "s" / "x.mp4", np.zeros((3, 48, 80, 3), np.uint8), 25.0)
    reader = get_corpus("lipcrops")
    with pytest.raises(TooFewFramesError):
        reader.load(reader.items(tmp_path)[0], crop=CropSpec())

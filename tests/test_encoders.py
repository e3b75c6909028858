"""The pretrained face and voice encoders (lipauth.encoders), on real people."""

import numpy as np
import pytest

from lipauth.errors import InvalidInputError
from lipauth.video.face import face_chip_frames
from lipauth.video.pipeline import LipPipeline, PipelineConfig
from tests.conftest import need


@pytest.fixture(scope="module")
def chip_pipeline(dlib_backend):
    return LipPipeline(PipelineConfig(face_chips=4), backend=dlib_backend)


@pytest.fixture(scope="module")
def face_encoder():
    from lipauth.encoders.face import FaceEncoder

    return FaceEncoder()


@pytest.fixture(scope="module")
def voice_encoder():
    pytest.importorskip("webrtcvad", reason="the voice encoder needs webrtcvad-wheels (a dependency of lipauth)")
    from lipauth.encoders.voice import VoiceEncoder

    return VoiceEncoder()


def test_face_chips_come_from_fitted_frames_only():
    face = np.zeros((10, 68, 2), np.float32)
    face[[0, 1, 2, 7]] = np.nan  # gap-filled frames: no face points to align by
    assert face_chip_frames(face, 3).tolist() == [3, 5, 9]
    assert face_chip_frames(np.full((4, 68, 2), np.nan, np.float32), 3).tolist() == []


def test_the_face_encoder_tells_the_two_grid_speakers_apart(chip_pipeline, face_encoder):
    """Two clips of grid-s2 are nearer each other than either is to grid-s1's speaker, on
    aligned 150x150 chips the pipeline cut from frames it already tracked."""
    s2a, s2b = chip_pipeline.process(need("grid-s2/video/bbilzs.mpg")), chip_pipeline.process(need("grid-s2/video/bbaf2a.mpg"))
    s1 = chip_pipeline.process(need("grid-s1/video/bbaf2n.mpg"))
    assert s2a.views.chips.shape == (4, 150, 150, 3)
    a, b, c = (face_encoder.embed(x) for x in (s2a, s2b, s1))
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert a @ b > 0.95 and a @ b > max(a @ c, b @ c) + 0.05


def test_the_face_network_in_torch_gives_dlibs_descriptors(chip_pipeline):
    """lipauth runs dlib's face ResNet in torch from dlib's own weights file
    (lipauth.encoders.dlib_resnet); on real aligned chips it must give dlib's vectors."""
    import dlib

    from lipauth.encoders.dlib_resnet import DlibFaceResNet
    from lipauth.video.landmarks.dlib_backend import model_path

    path = model_path("dlib_face_recognition_resnet_model_v1.dat")
    theirs, ours = dlib.face_recognition_model_v1(str(path)), DlibFaceResNet(path)
    clips = [need("grid-s1/video/bbaf2n.mpg"), *sorted(need("talking-faces").glob("*.mp4"))[:2]]
    chips = np.concatenate([np.asarray(chip_pipeline.process(c).views.chips) for c in clips])
    assert len(chips) == 12
    expected = np.array(theirs.compute_face_descriptor([np.ascontiguousarray(c) for c in chips]))
    got = ours.descriptors(chips)
    assert got.shape == (12, 128)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # and they are not all alike: different people stay apart
    assert np.linalg.norm(expected[0] - expected[-1]) > 0.3


def test_a_file_that_is_not_dlibs_face_resnet_is_refused(tmp_path):
    from lipauth.encoders.dlib_resnet import DlibFaceResNet
    from lipauth.errors import BackendUnavailableError
    from lipauth.video.landmarks.dlib_backend import model_path

    shape_predictor = model_path()  # a dlib file, but not this network
    with pytest.raises(BackendUnavailableError, match="not dlib's face ResNet"):
        DlibFaceResNet(shape_predictor)
    cut = tmp_path / "cut.dat"
    cut.write_bytes(model_path("dlib_face_recognition_resnet_model_v1.dat").read_bytes()[:5_000_000])
    with pytest.raises(BackendUnavailableError):
        DlibFaceResNet(cut)


def test_lipauths_ge2e_gives_resemblyzers_vectors(voice_encoder):
    """lipauth runs Resemblyzer's GE2E weights itself (lipauth.encoders.ge2e), so that a plain
    pip install brings the voice; on real speech it must give Resemblyzer's own vectors."""
    resemblyzer = pytest.importorskip("resemblyzer", reason="the reference, resemblyzer, is installed by `make setup` (--no-deps)")
    from lipauth.video.decode import decode_video

    reference = resemblyzer.VoiceEncoder("cpu", verbose=False)
    clips = [*sorted(need("grid-s2/video").glob("*.mpg"))[:2], *sorted(need("talking-faces").glob("*.mp4"))[:2]]
    for path in clips:
        audio = decode_video(path).audio
        theirs = reference.embed_utterance(resemblyzer.preprocess_wav(audio.astype(np.float32) / 32768.0, source_sr=None))
        np.testing.assert_allclose(voice_encoder.embed_wave(audio), theirs, atol=1e-5, err_msg=str(path))


def test_no_chips_no_face_vector(grid_video, dlib_backend, face_encoder):
    clip = LipPipeline(PipelineConfig(), backend=dlib_backend).process(grid_video)
    assert clip.views.chips is None and face_encoder.embed(clip) is None
    with pytest.raises(InvalidInputError, match="150, 150, 3"):
        face_encoder.embed_chips(np.zeros((2, 64, 64, 3), np.uint8))


def test_the_voice_encoder_tells_librispeech_speakers_apart(voice_encoder):
    """Two utterances of one LibriSpeech speaker are nearer each other than to another's."""
    import soundfile

    def vec(relative):
        wave, rate = soundfile.read(str(need(relative)), dtype="int16")
        return voice_encoder.embed_wave(wave, rate)

    root = need("librispeech-test-other")
    speakers = sorted(p for p in root.iterdir() if p.is_dir())[:2]
    (a1, a2), (b1, _) = [sorted(s.glob("*.flac"))[:2] for s in speakers]
    x1, x2, y1 = vec(a1.relative_to(root.parent)), vec(a2.relative_to(root.parent)), vec(b1.relative_to(root.parent))
    assert x1.shape == (256,) and np.linalg.norm(x1) == pytest.approx(1.0, abs=1e-4)
    assert x1 @ x2 > x1 @ y1 + 0.1


def test_silence_is_no_voice(voice_encoder, grid_video, chip_pipeline):
    """After trimming silences nothing is left of 3 s of near-silence: no vector, not a
    vector of noise; a clip without audio has none either."""
    rng = np.random.default_rng(0)
    assert voice_encoder.embed_wave(rng.normal(0, 3, 48000).astype(np.int16)) is None
    clip = chip_pipeline.process(grid_video, audio=False)
    assert voice_encoder.embed(clip) is None
    spoken = chip_pipeline.process(grid_video)
    assert voice_encoder.embed(spoken).shape == (256,)

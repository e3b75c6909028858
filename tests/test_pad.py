"""Presentation-attack defences: MFCCs, AV synchrony, the attack simulator, face liveness,
PAD metrics, the NUAA reader, and verify(liveness=True) on dubbed and shifted videos made
from the shared recordings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lipauth.clip import AUDIO_RATE, ClipMeta, FaceViews, LipClip
from lipauth.features.mfcc import deltas, mel_filterbank, mfcc, video_aligned_features
from lipauth.errors import CorpusError, EmptyCorpusError, InvalidInputError, TooFewFramesError
from lipauth.measure.metrics import eer
from lipauth.measure.pad_metrics import apcer_bpcer, bpcer_at_apcer, threshold_at_apcer
from lipauth.training.attacks import apply_attack, attack_frames, map_points, sample_params
from lipauth.pad.avsync import SyncConfig, SyncInputs, SyncModel, SyncNet, score_at
from lipauth.training.attacks import shift_audio, swap_audio
from lipauth.training.sync import SyncTrainConfig, _augment, _pairs, _voiced, attack_threshold
from tests.conftest import need


# -- MFCCs ------------------------------------------------------------------------------------
def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa", reason="librosa (dev extra) checks the filter bank")
    ours = mel_filterbank(26, 512, 16000)
    theirs = librosa.filters.mel(sr=16000, n_fft=512, n_mels=26, htk=True, norm=None)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_deltas_equal_htk_deltas_in_the_avletters_files():
    """AVLetters ships MFCC_E_D: 13 statics then HTK's deltas; ours must reproduce them."""
    from lipauth.corpora.avletters import read_htk

    files = sorted(need("avletters/Audio/mfcc/Clean").glob("*.mfcc"))[:20]
    for f in files:
        x = read_htk(f)
        d = deltas(x[:, :13])
        np.testing.assert_allclose(d[2:-2], x[2:-2, 13:], atol=1e-4)  # HTK treats the 2 edge frames its own way


def test_mfcc_of_a_tone_and_silence():
    t = np.arange(AUDIO_RATE) / AUDIO_RATE
    loud = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.01 * np.random.default_rng(0).normal(size=len(t))
    quiet = loud / 100
    a, b = mfcc(loud), mfcc(quiet)
    assert a.shape == (98, 13)  # 1 s at 10 ms hops with a 25 ms window
    assert np.allclose(a[:, 12] - b[:, 12], 2 * np.log(100), atol=0.05)  # log energy: 100x amplitude
    np.testing.assert_allclose(a[:, :12], b[:, :12], atol=1e-3)  # a gain only moves c0, which is left out
    with pytest.raises(InvalidInputError):
        mfcc(np.zeros(100, np.int16))


def test_video_aligned_features_from_a_waveform_and_from_htk_files(grid_decoded):
    from lipauth.corpora.avletters import AVLetters
    from lipauth.clip import CropSpec

    clip = LipClip(frames=np.zeros((grid_decoded.n_frames, 18, 30), np.uint8), meta=ClipMeta("g"), fps=grid_decoded.fps, audio=grid_decoded.audio)
    f = video_aligned_features(clip)
    assert f.shape == (2 * clip.n_frames - 1, 13, 3)
    np.testing.assert_allclose(f.mean(axis=0), 0, atol=1e-4)  # normalised over the utterance
    reader = AVLetters()
    item = reader.items(need("avletters"))[0]
    a = reader.load(item, crop=CropSpec(30, 18))
    assert video_aligned_features(a).shape == (2 * a.n_frames - 1, 13, 3)
    with pytest.raises(InvalidInputError, match="no audio"):
        video_aligned_features(LipClip(frames=np.zeros((20, 18, 30), np.uint8), meta=ClipMeta("x"), fps=25.0))


# -- AV synchrony -----------------------------------------------------------------------------
def _talking_clip(n=40, seed=0) -> LipClip:
    """A mouth that opens when a tone sounds: enough structure for the window logic."""
    rng = np.random.default_rng(seed)
    openness = (np.sin(np.arange(n) / 3.0 + seed) > 0).astype(float)
    frames = np.full((n, 18, 30), 90, np.uint8)
    for t, o in enumerate(openness):
        frames[t, 9 - int(4 * o) : 9 + int(4 * o) + 1, 8:22] = 20
    audio = np.concatenate([(o * 8000 * np.sin(np.arange(640) / 3.0) + rng.normal(0, 50, 640)) for o in openness]).astype(np.int16)
    return LipClip(frames=frames, meta=ClipMeta(f"c{seed}", speaker=f"s{seed}"), fps=25.0, audio=audio)


def test_sync_model_outputs_as_in_syncnet(tmp_path):
    torch.manual_seed(0)
    model = SyncModel(SyncNet(SyncConfig()), threshold=0.5)
    r = model.analyse(_talking_clip(40))
    assert r.offsets == list(range(-15, 16))
    assert len(r.distances) == 31 and len(r.window_distances) == 40 - 9 + 1
    assert r.best_offset == r.offsets[int(np.argmin(r.distances))]
    assert r.confidence == pytest.approx(np.median(r.distances) - min(r.distances))
    d = np.array(r.distances)
    assert r.score == pytest.approx((np.median(d) - d[15]) / (d.std() + 1e-6), rel=1e-5)
    loaded = SyncModel.load(model.save(tmp_path / "s.pt"))
    assert loaded.threshold == 0.5 and loaded.analyse(_talking_clip(40)).distances == pytest.approx(r.distances, abs=1e-5)
    with pytest.raises(TooFewFramesError):
        model.analyse(_talking_clip(9))
    with pytest.raises(InvalidInputError):
        SyncModel.load(Path(tmp_path / "nothing.pt"))


def test_sync_tolerance_scores_the_best_offset_near_zero_and_is_saved(tmp_path):
    torch.manual_seed(0)
    net = SyncNet(SyncConfig(tolerance=2))
    model = SyncModel(net, threshold=0.5)
    r = model.analyse(_talking_clip(40))
    d = np.array(r.distances)
    assert r.tolerance == 2
    assert r.score == pytest.approx((np.median(d) - d[13:18].min()) / (d.std() + 1e-6), rel=1e-5)
    strict = SyncModel(SyncNet(SyncConfig()), threshold=0.5)
    strict.nets[0].load_state_dict(net.state_dict())
    assert r.score >= strict.analyse(_talking_clip(40)).score  # the same net, tolerance 0
    assert SyncModel.load(model.save(tmp_path / "t.pt")).cfg.tolerance == 2



def test_the_null_score_compares_offset_zero_with_the_offsets_far_from_it(tmp_path):
    """null_from: (mean - distance at the centre) / std of the offsets null_from+ frames from
    every centre; a dip wider than the null's gap is not in the null."""
    offsets = list(range(-15, 16))
    flat = [1.0 + 0.01 * ((o * 7) % 5) for o in offsets]  # no dip: about 0
    dipped = [1.0 - 0.5 * (o == 0) - 0.2 * (abs(o) == 1) + 0.01 * ((o * 7) % 5) for o in offsets]
    d, far = np.array(dipped), np.abs(np.array(offsets)) >= 4
    assert score_at(offsets, dipped, null_from=4) == pytest.approx((d[far].mean() - d[15]) / d[far].std(), rel=1e-4)
    assert abs(score_at(offsets, flat, null_from=4)) < 2 < score_at(offsets, dipped, null_from=4)
    # read at a capture skew of +2: the null moves with it (offsets -1 .. +5 are left out)
    skewed = np.roll(d, 2)
    null = np.abs(np.array(offsets) - 2) >= 4
    assert score_at(offsets, skewed, (2,), null_from=4) == pytest.approx((skewed[null].mean() - skewed[17]) / skewed[null].std(), rel=1e-4)
    with pytest.raises(TooFewFramesError):  # 7 offsets: none 4+ frames from 0
        score_at(list(range(-3, 4)), [1.0] * 7, null_from=4)
    torch.manual_seed(0)
    model = SyncModel(SyncNet(SyncConfig(null_from=4)), threshold=2.0)
    r = model.analyse(_talking_clip(40))
    assert r.score == pytest.approx(score_at(r.offsets, r.distances, null_from=4), rel=1e-6)
    assert SyncModel.load(model.save(tmp_path / "n.pt")).cfg.null_from == 4


def test_the_attack_threshold_passes_at_most_2_percent_of_swaps_and_no_late_audio():
    swapped = list(np.linspace(0.0, 3.0, 100))
    t = attack_threshold(swapped + [1.0], ["swapped"] * 100 + ["shift_0.5s"])
    assert sum(s >= t for s in swapped) == 2 and t > swapped[97]  # 2 of 100 may pass, no more
    late_high = attack_threshold(swapped + [2.995], ["swapped"] * 100 + ["shift_0.5s"])
    assert late_high > 2.995 and sum(s >= late_high for s in swapped) == 1  # the late clip decides
    assert attack_threshold([1.0, 2.0], ["swapped", "in_sync"]) > 1.0  # one swap: it may not pass
    with pytest.raises(EmptyCorpusError):
        attack_threshold([1.0], ["in_sync"])


def test_validation_that_separates_puts_the_threshold_in_the_middle_of_the_gap():
    """eer() returns the lowest in-sync score when nothing overlaps; evaluate_sync takes the
    middle of the gap instead, and the EER point where the kinds overlap."""
    from types import SimpleNamespace

    from lipauth.training.sync import evaluate_sync

    class ByKind:  # in-sync clips score 3.0x, attacks 1.0x; `top` is the first attack's score
        def __init__(self, top):
            self.top, self.threshold, self.n = top, None, 0

        def analyse(self, clip):
            self.n += 1
            attack = "+" in clip.meta.clip_id
            score = (self.top if self.n == 2 else 1 + self.n / 100) if attack else 3 + self.n / 100
            return SimpleNamespace(score=score, best_offset=0, confidence=1.0)

    clips = [_talking_clip(40, seed) for seed in range(4)]
    apart = evaluate_sync(ByKind(1.5), clips)
    in_sync = [r["score"] for r in apart["scores"] if r["kind"] == "in_sync"]
    attacks = [r["score"] for r in apart["scores"] if r["kind"] != "in_sync"]
    assert apart["eer"] == 0 and apart["threshold"] == pytest.approx((min(in_sync) + max(attacks)) / 2)
    overlapping = evaluate_sync(ByKind(3.5), clips)  # one attack above every in-sync score
    assert overlapping["eer"] > 0 and overlapping["threshold"] == pytest.approx(eer(np.array([r["score"] for r in overlapping["scores"]]), np.array([r["kind"] == "in_sync" for r in overlapping["scores"]]))[1])


def test_a_sync_ensemble_averages_its_networks_distances(tmp_path):
    """Several networks: the distance of each window pair is the mean of theirs; one network
    twice is that network; the model file keeps them all, and a one-network file of the
    first format (lipauth-avsync/1) still loads."""
    torch.manual_seed(0)
    a, b = SyncNet(SyncConfig()), SyncNet(SyncConfig())
    clip = _talking_clip(40)
    x = SyncInputs.from_clip(clip, SyncConfig())
    da, db = SyncModel(a).window_distances(x), SyncModel(b).window_distances(x)
    assert not np.allclose(da, db)
    pair = SyncModel([a, b], threshold=0.7)
    np.testing.assert_allclose(pair.window_distances(x), (da + db) / 2, atol=1e-6)
    r = pair.analyse(clip)
    assert r.distances[15] == pytest.approx(float(np.diagonal((da + db) / 2).mean()), abs=1e-6)
    assert SyncModel([a, a]).analyse(clip).distances == pytest.approx(SyncModel(a).analyse(clip).distances, abs=1e-6)
    loaded = SyncModel.load(pair.save(tmp_path / "pair.pt"))
    assert len(loaded.nets) == 2 and loaded.threshold == 0.7
    assert loaded.analyse(clip).distances == pytest.approx(r.distances, abs=1e-6)
    cfg = dataclasses.asdict(SyncConfig()) | {"channels": list(SyncConfig().channels)}
    torch.save({"format": "lipauth-avsync/1", "config": cfg, "state_dict": a.state_dict(), "threshold": 0.5, "info": {}}, tmp_path / "v1.pt")
    old = SyncModel.load(tmp_path / "v1.pt")
    assert len(old.nets) == 1 and old.analyse(clip).distances == pytest.approx(SyncModel(a).analyse(clip).distances, abs=1e-6)
    with pytest.raises(ValueError, match="same configuration"):
        SyncModel([a, SyncNet(SyncConfig(window=5))])

def test_training_pairs_are_aligned_positives_and_out_of_sync_negatives():
    cfg, tcfg = SyncConfig(), SyncTrainConfig(min_shift=4, dub_same_speaker=1.0)
    data = [SyncInputs.from_clip(_talking_clip(40, s), cfg) for s in range(3)]
    groups = ["a", "a", "b"]  # clips 0 and 1 are one speaker
    rng = np.random.default_rng(0)
    batch = [(0, 3), (0, 20), (1, 5), (2, 30), (0, 0), (1, 10)]
    video, audio, a1, p, a2, n = _pairs(batch, data, groups, cfg, tcfg, rng)
    b = len(batch)
    assert video.shape == (b, 1, 9, 18, 30) and audio.shape[1:] == (3, 18, 13)
    for k, (i, t) in enumerate(batch):  # positives: the window's own audio
        np.testing.assert_array_equal(audio[int(p[a1 == k][0])], data[i].audio_window(t, cfg))
    dubbed_for = set()
    for k, m in zip(a2.tolist(), n.tolist()):  # no negative is this window's own audio, or near it
        i, t = batch[k]
        if m < b:
            j, u = batch[m]
            assert i != j or abs(u - t) >= 4
            continue
        assert not np.array_equal(audio[m], data[i].audio_window(t, cfg))
        # a dub: the same place in another clip of the same speaker (dub_same_speaker=1)
        other = [j for j in range(3) if j != i and groups[j] == groups[i]]
        same_place = [j for j in other if np.array_equal(audio[m], data[j].audio_window(min(t, data[j].last_start(cfg)), cfg))]
        if same_place:
            dubbed_for.add(k)
    voiced = {k for k, (i, t) in enumerate(batch) if _voiced(data[i], t, cfg)}
    assert dubbed_for == voiced - {3}  # clip 2's speaker has no other clip to dub him with
    assert 0 < len(voiced) < b  # the talking clips have silent and voiced windows


def test_augmentation_moves_and_rescales_the_mouth_and_leaves_the_batch_alone():
    rng = np.random.default_rng(0)
    video = rng.normal(size=(16, 1, 9, 18, 30)).astype(np.float32)
    audio = rng.normal(size=(40, 3, 18, 13)).astype(np.float32)
    v0, a0 = video.copy(), audio.copy()
    v, a = _augment(video, audio, np.random.default_rng(1))
    np.testing.assert_array_equal(video, v0)  # the caller's arrays are untouched
    np.testing.assert_array_equal(audio, a0)
    assert v.shape == video.shape and a.shape == audio.shape
    for k in range(len(v)):  # flips and shifts only move pixels; contrast scales them all alike
        ratio = np.sort(np.abs(v[k]).ravel()) / np.sort(np.abs(v0[k]).ravel())
        assert 0.7 <= ratio.mean() <= 1.3 and ratio.std() < 1e-4
    assert not np.allclose(v, v0) and 0.05 < np.std(a - a0) < 0.5  # noise of std 0.1, and dropped bands
    assert np.mean([np.all(a[k, ..., c : c + 2] == 0) for k in range(len(a)) for c in range(12)]) > 0


def test_shifted_and_swapped_audio():
    c = _talking_clip(40, 0)
    s = shift_audio(c, 0.5)
    assert len(s.audio) == len(c.audio) and not s.audio[: AUDIO_RATE // 2].any()
    np.testing.assert_array_equal(s.audio[AUDIO_RATE // 2 :], c.audio[: len(c.audio) - AUDIO_RATE // 2])
    other = _talking_clip(40, 1)
    w = swap_audio(c, other)
    assert w.audio is other.audio and w.frames is c.frames and "audio_of_c1" in w.meta.clip_id


# -- attacks ----------------------------------------------------------------------------------
def _sharpness(img):
    return cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()


def test_attack_simulator_leaves_the_documented_artefacts(grid_decoded):
    frame = grid_decoded.frames[10]
    rng = np.random.default_rng(0)
    sat = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2HSV)[..., 1].mean()  # noqa: E731
    p = sample_params("print", rng)
    printed = apply_attack(frame, p, rng)
    assert printed.shape == frame.shape and printed.dtype == np.uint8
    no_grain = apply_attack(frame, dataclasses.replace(p, grain=0.0), rng)  # grain is sharp noise of its own
    assert _sharpness(no_grain) < 0.5 * _sharpness(frame)  # recapture blur
    assert np.abs(printed.astype(int) - no_grain).mean() > 1  # the halftone grain
    assert sat(printed) < sat(frame)  # gamut loss
    assert np.percentile(printed, 99) - np.percentile(printed, 1) < np.percentile(frame, 99) - np.percentile(frame, 1)  # contrast loss
    p = sample_params("replay", np.random.default_rng(3))
    replayed = apply_attack(frame, p, rng)
    h, w = frame.shape[:2]
    assert (replayed[:2] == 18).all() and (replayed[:, :2] == 18).all()  # the bezel
    pts = np.array([[w / 2, h / 2], [0, 0]], np.float32)
    mapped = map_points(pts, p, (h, w))
    assert np.allclose(mapped[0], [w / 2, h / 2], atol=1) and (mapped[1] > 0).all()
    frames, params = attack_frames(grid_decoded.frames[:3], "print", np.random.default_rng(1))
    assert frames.shape == grid_decoded.frames[:3].shape and params.kind == "print"
    with pytest.raises(InvalidInputError):
        sample_params("mask", rng)
    with pytest.raises(InvalidInputError):
        apply_attack(frame[..., 0], p, rng)


# -- PAD metrics ------------------------------------------------------------------------------
def test_apcer_bpcer_by_hand():
    scores = [0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.75, 0.3, 0.05]
    bona = [1, 1, 1, 1, 0, 0, 0, 0, 0]
    species = ["bf"] * 4 + ["print", "print", "replay", "replay", "replay"]
    r = apcer_bpcer(scores, np.array(bona, bool), species, 0.5)
    assert r["apcer"] == {"print": 0.5, "replay": pytest.approx(1 / 3)} and r["apcer_max"] == 0.5
    assert r["bpcer"] == 0.25
    # APCER <= 0 for every species: above 0.75 (replay) and 0.6 (print) -> BPCER 1/2 (0.7, 0.2 rejected)
    bpcer, t = bpcer_at_apcer(scores, np.array(bona, bool), species, 0.0)
    assert 0.75 < t <= 0.8 and bpcer == 0.5
    assert threshold_at_apcer(scores, np.array(bona, bool), species, 0.5) == pytest.approx(0.3, abs=1e-6)
    with pytest.raises(InvalidInputError):
        apcer_bpcer([0.1], [True], ["bf"], 0.5)


# -- NUAA -------------------------------------------------------------------------------------
def test_nuaa_reader(tmp_path, grid_decoded):
    from lipauth.corpora.nuaa import read_nuaa

    frame = cv2.cvtColor(grid_decoded.frames[5], cv2.COLOR_RGB2BGR)
    for kind, folder in (("client", "ClientRaw"), ("imposter", "ImposterRaw")):
        lines = []
        for client in ("0001", "0002"):
            (tmp_path / folder / client).mkdir(parents=True)
            name = f"{client}_00_00_01_0.jpg"
            cv2.imwrite(str(tmp_path / folder / client / name), frame)
            lines.append(f"{client}\\{name}")
        lines.append("0002\\missing.jpg")
        (tmp_path / f"{kind}_train_raw.txt").write_text("\r\n".join(lines) + "\r\n")
    samples, failures = read_nuaa(tmp_path, "train")
    assert [(s.client, s.bona_fide, s.attack) for s in samples] == [("0001", True, None), ("0002", True, None), ("0001", False, "print"), ("0002", False, "print")]
    assert all(s.crops.shape == (1, 64, 64, 3) for s in samples)
    assert len(failures) == 2 and all("not a readable image" in v for v in failures.values())
    with pytest.raises(CorpusError, match="client_test_raw.txt"):
        read_nuaa(tmp_path, "test")


def test_nuaa_normalized_release_reads_its_official_lists():
    """The release in ../shared/data: 64x64 greyscale BMPs, eye-aligned, official lists."""
    from lipauth.corpora.nuaa import read_nuaa

    root = need("nuaa")
    train, failures = read_nuaa(root, "train", variant="normalized")
    assert not failures and len(train) == 1742 + 1748
    assert sorted({s.client for s in train}) == [f"{i:04d}" for i in range(1, 10)]
    assert sum(s.bona_fide for s in train) == 1742 and {s.attack for s in train if not s.bona_fide} == {"print"}
    crop = train[0].crops
    assert crop.shape == (1, 64, 64, 3) and crop.dtype == np.uint8
    assert (crop[..., 0] == crop[..., 1]).all() and (crop[..., 1] == crop[..., 2]).all() and crop.std() > 10
    with pytest.raises(InvalidInputError, match="normalized"):
        read_nuaa(root, "train", variant="aligned")


# -- face crops and liveness ------------------------------------------------------------------
def test_face_crops_hold_the_mouth_low_in_the_middle(grid_decoded, dlib_backend):
    from lipauth.video.face import face_boxes, face_crops

    pts = dlib_backend.track(grid_decoded.frames[:10]).points
    crops = face_crops(grid_decoded.frames[:10], pts, n=4)
    assert crops.shape == (4, 64, 64, 3) and crops.dtype == np.uint8
    box = face_boxes(pts[:1])[0]
    mouth = pts[0].mean(axis=0)
    assert box[0] < mouth[0] < box[2] and (mouth[1] - box[1]) / (box[3] - box[1]) == pytest.approx(0.72, abs=0.01)


def test_liveness_model_roundtrip_and_scoring(tmp_path):
    from lipauth.pad.liveness import LivenessModel, LivenessNet

    torch.manual_seed(0)
    m = LivenessModel(LivenessNet(), reference=np.ones(64, np.float32) / 8, thresholds={"eer": 0.5, "generic_eer": 0.1})
    crops = np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    refs = m.embed(crops)
    assert refs.shape == (4, 64) and np.allclose(np.linalg.norm(refs, axis=1), 1, atol=1e-5)
    assert m.score(crops, refs) == pytest.approx(float(np.mean(refs @ refs.T)), abs=1e-5)
    loaded = LivenessModel.load(m.save(tmp_path / "l.pt"))
    assert loaded.thresholds == m.thresholds and loaded.score(crops) == pytest.approx(m.score(crops), abs=1e-5)
    with pytest.raises(InvalidInputError):
        m.embed(crops[..., 0])


def test_a_liveness_ensemble_scores_the_mean_of_its_members_cosines(tmp_path):
    """The one ensemble mechanism (lipauth.training.ensemble) for the liveness model too:
    members' embeddings side by side over sqrt(M), so a cosine is the mean of theirs."""
    from lipauth.pad.liveness import LivenessModel, LivenessNet
    from lipauth.training.ensemble import member_seeds, train_members

    torch.manual_seed(0)
    a, b = LivenessNet(), LivenessNet()
    crops = np.random.default_rng(1).integers(0, 255, (5, 64, 64, 3), dtype=np.uint8)
    ea, eb, both = LivenessModel(a).embed(crops), LivenessModel(b).embed(crops), LivenessModel([a, b])
    e = both.embed(crops)
    np.testing.assert_allclose(e @ e.T, (ea @ ea.T + eb @ eb.T) / 2, atol=1e-5)
    back = LivenessModel.load(both.save(tmp_path / "ens.pt"))
    assert len(back.nets) == 2 and np.allclose(back.embed(crops), e, atol=1e-6)
    assert train_members(7, 3, lambda i, seed: (i, seed)) == [(0, 7), (1, 8), (2, 9)]
    with pytest.raises(InvalidInputError, match="at least one member"):
        member_seeds(0, 0)


# -- the bundled models on the shared recordings ---------------------------------------------
@pytest.fixture(scope="module")
def checks():
    from lipauth.pad.checks import PresentationChecks

    return PresentationChecks.load()


@pytest.fixture(scope="module")
def lip_model():
    """The bundled lip model (3 networks, 16 MB): loaded once for the tests that need it."""
    from lipauth.api import load_model

    return load_model()


def test_bundled_models_carry_their_thresholds_and_evaluation(checks):
    from lipauth.pad.checks import create_check

    sync, texture, face = checks["av_sync"].model, checks["face_liveness"].model, create_check("face_liveness_siamese").model
    assert sync.threshold is not None and "evaluation" in sync.info
    # the sync score against the clip's own null, its threshold set by the attacks of the 35 fold people
    assert sync.cfg.null_from == 4 and sync.info["operating_point"]["people"] == 35
    assert {"eer", "apcer_5pct", "midpoint", "generic_eer", "generic_midpoint"} <= set(face.thresholds)
    assert face.reference is not None and len(sync.id) == len(face.id) == len(texture.id) == 16
    # the texture model: settings by leave-one-person-out on NUAA's train list, then its test list scored
    assert texture.info["n_people"] == 9 and texture.info["recipe"]["kind"] == "face_texture"
    assert texture.info["evaluation"]["test"]["n_people"] == 16  # NUAA's test list: later sessions, 7 of its 16 people new


def _dub(src: Path, out: Path, audio: np.ndarray) -> Path:
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    v = decode_video(src)
    return write_video(out, v.frames, v.fps, audio[: len(v.audio)] if len(audio) >= len(v.audio) else np.pad(audio, (0, len(v.audio) - len(audio))))


@pytest.mark.slow
def test_verify_with_liveness_rejects_dubbed_and_shifted_videos(tmp_path, monkeypatch, lip_model):
    """The issue's check on every grid-s2 probe: the speaker enrolled from 3 clips; each other
    clip re-muxed with PyAV with its audio 0.5 s late, and with another clip's audio (the
    same man saying another sentence: the hardest dub). Every shifted video must be
    rejected, and at least three in four dubbed ones; nearly every genuine video must pass
    every check. Floors below the bundled model's measured rates (17/17 genuine accepted,
    14/17 dubs rejected; docs/pad.md). The videos are written as
    MPEG-1 like GRID's own: libx264 through PyAV gave different bytes from run to run, and
    scores near the threshold flipped with them."""
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier
    from lipauth.video.decode import decode_video

    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)
    verifier = Verifier(lip_model, TemplateStore(tmp_path / "t.db", create=True))
    s2 = sorted(need("grid-s2/video").glob("*.mpg"))
    template = verifier.enroll("s2", s2[:3])
    assert "face_liveness" not in template.check_state  # texture is the probe's own
    assert template.check_state["av_sync"]["skew"] == [0]  # a studio: sound and picture in step
    probes = s2[3:]
    audio = {p: decode_video(p).audio for p in probes}
    genuine, shifted, dubbed = [], [], []
    for i, p in enumerate(probes):
        d = verifier.verify("s2", p, liveness=True)
        assert [c.name for c in d.checks] == ["av_sync", "face_liveness", "motion"] and d.checks[1].passed and d.checks[2].passed
        genuine.append(d.accepted)
        late = np.concatenate([np.zeros(AUDIO_RATE // 2, np.int16), audio[p]])
        shifted.append(verifier.verify("s2", _dub(p, tmp_path / f"late_{p.stem}.mpg", late), liveness=True))
        dubbed.append(verifier.verify("s2", _dub(p, tmp_path / f"dub_{p.stem}.mpg", audio[probes[(i + 1) % len(probes)]]), liveness=True))
    # the lips and the face are the user's: only AV synchrony can catch these
    assert np.mean([d.score >= d.threshold and d.checks[1].passed for d in shifted + dubbed]) >= 0.9
    assert not any(d.accepted for d in shifted)
    assert np.mean([not d.accepted for d in dubbed]) >= 0.75
    assert np.mean(genuine) >= 0.85
    # re-muxing alone is no attack: a clip whose own audio is written back scores as before
    d = verifier.verify("s2", _dub(probes[0], tmp_path / "remux.mpg", audio[probes[0]]), liveness=True)
    assert d.checks[0].score == pytest.approx(verifier.verify("s2", probes[0], liveness=True).checks[0].score, abs=0.3)


def test_capture_skew_is_where_most_enrolment_clips_agree_and_small():
    from lipauth.pad.av_sync_check import capture_skew

    assert capture_skew([2, 2, 3]) == (2, 3) and capture_skew([0, 0, 1]) == (0,) and capture_skew([-2, -1, -2]) == (-2, -1)
    assert capture_skew([2, 2, 9]) == (2,)  # one clip off: left out
    assert capture_skew([2, 9, -6]) == (0,)  # the clips disagree: no skew is learned
    assert capture_skew([6, 6, 6]) == (0,) and capture_skew([3, 4, 4]) == (0,)  # 160-240 ms is no capture skew: scoring there would favour dubs


def test_a_users_capture_skew_learned_at_enrolment_lets_their_late_audio_pass(checks, lip_model):
    """A camera whose sound comes 2 frames (80 ms) late, as Chromium's does: enrolled from
    three such clips, the user's probes from it are scored at +2 and pass, while read at 0
    they score lower; audio 0.5 s late still fails, and a user enrolled in step keeps 0."""
    from lipauth.training.attacks import shift_audio

    check = checks["av_sync"]
    clips = [lip_model.clip(p) for p in sorted(need("grid-s2/video").glob("*.mpg"))[:4]]
    late = [shift_audio(c, 0.08) for c in clips]
    state = check.enrol(late[:3])
    assert 2 in state["skew"] and max(map(abs, state["skew"])) <= 3 and state["model_id"] == check.model_id, state
    assert check.enrol(clips[:3])["skew"] == [0]
    with_skew, without = check.run(late[3], state), check.run(late[3], None)
    assert with_skew.passed and with_skew.extra["centres"] == tuple(state["skew"]) and "capture skew +2" in with_skew.detail
    assert with_skew.score > without.score + 0.5, (with_skew.score, without.score)
    assert not check.run(shift_audio(clips[3], 0.5), state).passed
    assert check.run(late[3], {**state, "model_id": "another model"}).extra["centres"] == (0,)  # made by another network: not used
    # the bundled file was the same network scored another way before (the spread score,
    # threshold 2.034): users enrolled with it keep their skew
    earlier = check.model.info["same_network_as"]
    assert len(earlier) == 1 and earlier[0] != check.model_id
    assert check.run(late[3], {**state, "model_id": earlier[0]}).extra["centres"] == tuple(state["skew"])


@pytest.mark.slow
def test_a_50_fps_video_scores_in_sync_like_its_25_fps_original(tmp_path, checks, lip_model):
    """The sync model learned from 25-30 fps video; the pipeline brings a 50 fps video back to
    25 fps, so a genuine clip recorded at twice the rate still passes. (Taken at 50 fps this
    clip's score fell from 3.08 to 1.85, under the threshold.)"""
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    model = lip_model
    v = decode_video(need("grid-s2/video/bginza.mpg"))
    slow = write_video(tmp_path / "slow.avi", v.frames, 25.0, v.audio)
    fast = write_video(tmp_path / "fast.avi", np.repeat(v.frames, 2, axis=0), 50.0, v.audio)
    clip_slow, clip_fast = model.clip(slow), model.clip(fast)
    assert clip_fast.fps == 25 and clip_fast.n_frames == clip_slow.n_frames
    s_slow, s_fast = checks["av_sync"].model.score(clip_slow), checks["av_sync"].model.score(clip_fast)
    assert s_fast >= checks["av_sync"].model.threshold and abs(s_fast - s_slow) < 0.3, (s_slow, s_fast)


@pytest.mark.slow
def test_audio_starting_late_in_its_container_is_still_in_sync(tmp_path, checks, lip_model):
    """A genuine clip whose audio stream starts 0.3 s after the video (and whose first
    0.3 s of sound is therefore not there) plays in sync, and must pass as in sync; read
    from time 0 it was 0.3 s early, which the check rejects like a dub."""
    from lipauth.video.decode import decode_video
    from tests.conftest import write_with_audio_starting_at

    model = lip_model
    v = decode_video(need("grid-s2/video/bbwgza.mpg"))
    n = int(0.3 * AUDIO_RATE)
    clip = model.clip(write_with_audio_starting_at(tmp_path / "late_start.mkv", v.frames, v.audio[n:], 0.3))
    assert checks["av_sync"].model.score(clip) >= checks["av_sync"].model.threshold


@pytest.mark.slow
def test_held_out_speakers_dubbed_videos_are_mostly_rejected(checks, lip_model):
    """grid-sample's speakers (other than lwbsza) were never seen in training (4 of these
    clips chose the threshold): at the bundled threshold every 0.5 s-shifted version and
    most audio-swapped ones fail AV synchrony."""
    model = lip_model
    clips = [model.clip(p) for p in sorted(need("grid-sample").glob("*.mpg")) if p.stem != "lwbsza"]
    thr = checks["av_sync"].model.threshold
    assert all(checks["av_sync"].model.score(shift_audio(c, 0.5)) < thr for c in clips)
    swapped_rejected = np.mean([checks["av_sync"].model.score(swap_audio(c, clips[(i + 1) % len(clips)])) < thr for i, c in enumerate(clips)])
    assert swapped_rejected >= 0.8, swapped_rejected  # measured: 10 of 10


@pytest.mark.slow
def test_the_siamese_face_liveness_rejects_simulated_prints_and_replays_of_the_enrolled_user(tmp_path):
    from lipauth.pad.checks import create_check
    from lipauth.training.face_data import face_samples_from_video
    from lipauth.video.pipeline import LipPipeline

    pipe = LipPipeline()
    s2 = sorted(need("grid-s2/video").glob("*.mpg"))
    rng = np.random.default_rng(42)
    enrolled = np.concatenate([face_samples_from_video(p, "s2", pipe, rng, attacks=())[0].crops for p in s2[:3]])
    check = create_check("face_liveness_siamese")
    refs = check.model.embed(enrolled)
    thr = check.model.thresholds[check.point]
    for p in s2[-3:]:
        real, printed, replayed = face_samples_from_video(p, "s2", pipe, rng)
        assert check.model.score(real.crops, refs) >= thr
        assert check.model.score(printed.crops, refs) < thr and check.model.score(replayed.crops, refs) < thr


def test_templates_keep_each_checks_state_and_read_the_old_face_refs():
    from lipauth.auth.templates import Template

    old = json.dumps({"embeddings": [[1.0, 0.0]], "model_id": "m", "passphrase": None, "created_at": "2026-01-01T00:00:00+00:00"}).encode()
    assert Template.from_bytes("u", old).check_state == {}
    # templates enrolled before checks kept their own state stored the liveness refs apart
    older = json.dumps({"embeddings": [[1.0, 0.0]], "model_id": "m", "created_at": "x", "face_refs": [[0.5] * 64] * 3, "face_refs_model": "abc"}).encode()
    assert Template.from_bytes("u", older).check_state == {"face_liveness_siamese": {"model_id": "abc", "refs": [[0.5] * 64] * 3}}
    state = {"face_liveness": {"model_id": "abc", "refs": np.ones((3, 64)).tolist()}, "phrase": {"anything": [1, 2]}}
    back = Template.from_bytes("u", Template.from_embeddings("u", np.eye(2), "m", check_state=state).to_bytes())
    assert back.check_state == state


def test_enrolled_face_crops_of_another_liveness_model_are_not_used():
    from lipauth.pad.checks import PresentationChecks

    checks = PresentationChecks.load(("av_sync", "face_liveness_siamese", "motion"))
    crops = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    clip = LipClip(frames=np.zeros((12, 18, 30), np.uint8), meta=ClipMeta("x"), fps=25.0, views=FaceViews(crops=crops))
    check = checks["face_liveness_siamese"]
    state = check.enrol([clip])
    assert state["model_id"] == check.model_id and np.allclose(state["refs"], check.model.embed(crops), atol=1e-6)
    (same,), skipped = checks.run(clip, {"face_liveness_siamese": state})
    (other,), _ = checks.run(clip, {"face_liveness_siamese": {**state, "model_id": "another-model"}})
    assert same.score == pytest.approx(check.model.score(crops, np.asarray(state["refs"], np.float32))) and "enrolled face crops" in same.detail
    assert other.score == pytest.approx(check.model.score(crops)) and "another liveness model" in other.detail
    # no audio: AV synchrony could not run and says why; required, it fails
    assert [(c.name, c.status) for c in skipped] == [("av_sync", "not_run"), ("motion", "not_run")] and skipped[0].detail == "the video has no audio track"
    (sync, _), _ = checks.run(clip, {}, require_audio=True)
    assert sync.name == "av_sync" and sync.status == "failed" and "no audio track" in sync.detail


def test_a_check_registers_by_name_and_runs_through_the_protocol():
    """What adding a check takes: a class with name, model_id, enrol and run, registered."""
    from lipauth.pad.checks import CHECKS, Check, PresentationChecks, create_check, register_check

    class MouthOpen:
        name, model_id = "mouth_open", "v1"

        def enrol(self, clips):
            return {"mean": float(np.mean([c.frames.mean() for c in clips]))}

        def run(self, clip, state, *, require_audio=False):
            s = float(clip.frames.mean())
            return Check(self.name, s, state["mean"], s >= state["mean"], "brighter than enrolled")

    register_check("mouth_open")(lambda path=None: MouthOpen())
    try:
        bright = LipClip(frames=np.full((12, 18, 30), 200, np.uint8), meta=ClipMeta("b"), fps=25.0)
        dark = LipClip(frames=np.full((12, 18, 30), 50, np.uint8), meta=ClipMeta("d"), fps=25.0)
        checks = PresentationChecks([create_check("mouth_open")])
        state = checks.enrol([bright, dark])
        assert state == {"mouth_open": {"mean": 125.0}}
        assert [r.passed for r in checks.run(bright, state)[0] + checks.run(dark, state)[0]] == [True, False]
    finally:
        CHECKS._factories.pop("mouth_open")


@pytest.mark.slow
def test_cli_verify_liveness_and_check_sync(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from lipauth.cli import app
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    runner = CliRunner()
    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)
    s2 = sorted(need("grid-s2/video").glob("*.mpg"))
    db = ["--store", str(tmp_path / "t.db")]
    assert runner.invoke(app, ["enroll", "s2", *map(str, s2[:3]), *db]).exit_code == 0
    res = runner.invoke(app, ["verify", "s2", str(s2[8]), *db, "--liveness", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert [c["name"] for c in d["checks"]] == ["av_sync", "face_liveness", "motion"] and all(c["passed"] for c in d["checks"])
    shifted = _dub(s2[8], tmp_path / "late.mpg", np.concatenate([np.zeros(AUDIO_RATE // 2, np.int16), decode_video(s2[8]).audio]))
    res = runner.invoke(app, ["verify", "s2", str(shifted), *db, "--liveness"])
    assert res.exit_code == 1 and "FAIL av_sync" in res.output, res.output
    live = json.loads(runner.invoke(app, ["verify", "s2", str(shifted), *db, "--liveness", "--json"]).output)
    res = runner.invoke(app, ["check-sync", str(shifted), "--json"])
    synced = json.loads(res.output)
    assert res.exit_code == 1 and synced["in_sync"] is False
    # the same check decides in both: the same score against the same threshold
    assert synced["threshold"] == live["checks"][0]["threshold"] and synced["score"] == pytest.approx(live["checks"][0]["score"], abs=1e-6)
    res = runner.invoke(app, ["check-sync", str(s2[8])])
    assert res.exit_code == 0 and "IN SYNC" in res.output
    # the same video with its audio track removed: AV synchrony is skipped (and said so),
    # unless the caller requires audio, as a login should: else stripping a dub's audio
    # would get it past the check
    v = decode_video(s2[8])
    silent = write_video(tmp_path / "silent.mpg", v.frames, v.fps, None)
    res = runner.invoke(app, ["verify", "s2", str(silent), *db, "--liveness", "--json"])
    d = json.loads(res.output)
    assert res.exit_code == 0 and [c["name"] for c in d["checks"]] == ["face_liveness", "motion"] and d["not_run"] == {"av_sync": "the video has no audio track"}
    res = runner.invoke(app, ["verify", "s2", str(silent), *db, "--liveness"])
    assert "note av_sync not run: the video has no audio track" in res.output and "note voice left out" in res.output, res.output
    res = runner.invoke(app, ["verify", "s2", str(silent), *db, "--liveness", "--require-audio"])
    assert res.exit_code == 1 and "FAIL av_sync" in res.output and "no audio" in res.output, res.output
    res = runner.invoke(app, ["verify", "s2", str(s2[8]), *db, "--liveness", "--require-audio"])
    assert res.exit_code == 0, res.output  # a video with audio is checked as before
    res = runner.invoke(app, ["verify", "s2", str(silent), *db, "--require-audio"])
    assert res.exit_code == 2 and "liveness" in res.output
    res = runner.invoke(app, ["check-sync", str(tmp_path / "nothing.mp4")])
    assert res.exit_code == 2


@pytest.mark.slow
def test_a_short_sync_training_on_real_data_learns_synchrony():
    """Two AVLetters speakers, three epochs: validation AUC on a third speaker (in sync vs
    shifted and swapped) must clearly beat the untrained network's."""
    from lipauth.corpora.dataset import load_dataset
    from lipauth.training.sync import evaluate_sync, train_sync
    from lipauth.clip import CropSpec

    ds = load_dataset(need("avletters"), "avletters", CropSpec(30, 18))
    train = ds.of_speakers(["Anya", "Bill"])
    val = ds.of_speakers(["Kate"])[::2]
    torch.manual_seed(0)
    untrained = evaluate_sync(SyncModel(SyncNet(SyncConfig())), val)["auc"]
    model, info = train_sync(train, val, SyncConfig(), SyncTrainConfig(epochs=3), progress=False)
    assert info["history"][-1]["loss"] < info["history"][0]["loss"]
    trained = max(h["auc"] for h in info["history"])
    assert trained > 0.8 and trained > untrained + 0.15, (untrained, trained)
    assert model.threshold is not None


def test_a_sync_ensemble_trains_one_network_per_seed():
    """members=2: two networks from seeds 0 and 1 (so they differ), each keeping its own
    best epoch; the first is exactly what train_sync makes with seed 0; the threshold is the
    ensemble's on the validation clips."""
    from lipauth.training.sync import evaluate_sync, train_sync, train_sync_ensemble

    train, val = [_talking_clip(40, s) for s in range(4)], [_talking_clip(40, s) for s in (4, 5, 6)]
    tcfg = SyncTrainConfig(epochs=1, batch_size=16)
    pair, info = train_sync_ensemble(train, val, SyncConfig(), tcfg, members=2, progress=False)
    single, _ = train_sync(train, val, SyncConfig(), tcfg, progress=False)
    assert len(pair.nets) == 2 and info["members"] == 2
    assert [h["seed"] for h in info["history"]] == [0, 1]
    a, b = (dict(n.state_dict()) for n in pair.nets)
    assert not torch.equal(a["audio.head.weight"], b["audio.head.weight"])
    assert all(torch.equal(v, single.nets[0].state_dict()[k]) for k, v in a.items())
    assert pair.threshold == pytest.approx(evaluate_sync(pair, val)["threshold"])
    with pytest.raises(ValueError):
        train_sync_ensemble(train, val, members=0)


# -- face texture liveness (lipauth.pad.texture, after Maatta et al. 2011) ------------------------


def test_lbp_features_are_normalised_histograms_of_the_documented_layout():
    from lipauth.pad.texture import N_FEATURES, lbp_features

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    f = lbp_features(faces)
    assert f.shape == (2, N_FEATURES) == (2, 833)
    # 9 regional LBP(8,1) histograms of 59 bins, then LBP(16,2) (243) and LBP(8,2) (59): each sums to 1
    edges = np.cumsum([0] + [59] * 9 + [243, 59])
    for a, b in zip(edges[:-1], edges[1:]):
        assert np.allclose(f[:, a:b].sum(1), 1.0)
    flat = np.full((1, 64, 64), 128, np.uint8)  # a flat grey face: every pixel the one uniform code
    assert lbp_features(flat).max() == pytest.approx(1.0)
    with pytest.raises(InvalidInputError):
        lbp_features(np.zeros((1, 32, 32), np.uint8))


def test_texture_liveness_tells_nuaa_photos_from_live_faces_of_unseen_people(tmp_path):
    """Fitted on 4 of NUAA's training people (grouped CV picks C and gamma, pooled
    out-of-fold scores the threshold), scored on 3 other people of the official test list:
    the model file gives back the same scores, and photos score below live faces."""
    from sklearn.metrics import roc_auc_score

    from lipauth.corpora.nuaa import read_nuaa
    from lipauth.pad.texture import TextureLiveness, fit, lbp_features

    root = need("nuaa")
    train, _ = read_nuaa(root, "train", variant="normalized")
    test, _ = read_nuaa(root, "test", variant="normalized")
    train_people = sorted({s.client for s in train})[:4]
    fit_on = [s for s in train if s.client in train_people][::4]
    unseen = [s for s in test if s.client not in train_people]
    unseen = [s for s in unseen if s.client in sorted({u.client for u in unseen})[:3]][::6]
    x = lbp_features(np.concatenate([s.crops for s in fit_on]))
    model = fit(x, np.array([s.bona_fide for s in fit_on]), np.array([s.client for s in fit_on]), folds=2, c_grid=(0.1, 1.0), gamma_grid=(0.3, 1.0))
    assert model.info["n_people"] == 4 and model.info["C"] in (0.1, 1.0) and 0 <= model.info["oof_eer"] < 0.5
    faces, live = np.concatenate([s.crops for s in unseen]), np.array([s.bona_fide for s in unseen])
    assert live.any() and not live.all()
    scores = model.score(faces)
    assert roc_auc_score(live, scores) > 0.8
    back = TextureLiveness.load(model.save(tmp_path / "texture.pt"))
    assert np.allclose(back.score(faces), scores, atol=1e-4) and back.id and back.info == model.info


# -- video that does not live (lipauth.pad.motion_check) ----------------------------------------------


def test_the_motion_measures_on_made_up_mouths():
    """Articulation ignores where a rigid mouth is, how big and how turned; frozen_share is the
    longest still run, not the number of still frames."""
    from lipauth.pad.motion_check import articulation, frozen_share

    rng = np.random.default_rng(0)
    mouth = np.stack([np.cos(np.linspace(0, 2 * np.pi, 24, endpoint=False)), 0.4 * np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False))], axis=1)
    t = np.arange(75)
    rigid = []
    for i in t:  # a photo moved: turned, zoomed, shifted, with tracker jitter
        a, s = 0.1 * np.sin(i / 6), 40 * (1 + 0.1 * np.sin(i / 9))
        r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        rigid.append(s * mouth @ r.T + [200 + 10 * np.sin(i / 5), 300] + rng.normal(scale=0.2, size=(24, 2)))
    # the mouth opening 4 times a second (sin squared), a syllable rate
    speaking = [40 * mouth * [1, 1 + 0.8 * np.sin(2 * np.pi * 2 * i / 25) ** 2] + [200, 300] + rng.normal(scale=0.2, size=(24, 2)) for i in t]
    assert articulation(np.array(rigid)) < 0.03 < articulation(np.array(speaking))
    thumbs = rng.integers(0, 255, (40, 32, 32), dtype=np.uint8)
    thumbs[5:15] = thumbs[5]  # 9 still steps of 39
    thumbs[20:24] = thumbs[20]
    assert frozen_share(thumbs) == pytest.approx(9 / 39)


@pytest.fixture(scope="module")
def lifeless(tmp_path_factory):
    """A real grid-s2 clip, and the four lifeless copies of it, as videos."""
    from lipauth.training.attacks import LIFELESS, lifeless_frames
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    tmp = tmp_path_factory.mktemp("lifeless")
    path = need("grid-s2/video/bbilzs.mpg")
    live = decode_video(path, audio=False)
    frames = live.rgb()
    made = {kind: write_video(tmp / f"{kind}.mp4", lifeless_frames(frames, kind), live.fps, codec_options={"preset": "ultrafast"}) for kind in LIFELESS}
    return {"genuine": path, **made}


def test_a_still_frozen_or_moved_photo_video_fails_the_motion_check(lifeless, lip_model):
    from lipauth.pad.checks import PresentationChecks

    checks = PresentationChecks.load(("motion",))
    results = {kind: checks.run(lip_model.clip(p, thumbnails=True), None)[0][0] for kind, p in lifeless.items()}
    assert results["genuine"].passed, results["genuine"].detail
    for kind in ("still", "photo_moved", "frozen_half"):
        assert results[kind].status == "failed", (kind, results[kind].detail)
    assert results["still"].extra["frozen_share"] > 0.8 and results["still"].score < 0.03
    assert results["photo_moved"].extra["frozen_share"] < 0.2 and results["photo_moved"].score < 0.03  # it moves; its mouth does not
    assert 0.3 < results["frozen_half"].extra["frozen_share"] < 0.7 and results["frozen_half"].score >= 0.03  # it spoke, then froze


def test_verify_with_liveness_refuses_a_still_frame_of_the_user(lifeless, lip_model, tmp_path, monkeypatch):
    """Issue #25: a still-frame video of the enrolled user scored 1.000 on face liveness and
    was accepted; the motion check now fails it."""
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)
    v = Verifier(lip_model, TemplateStore(tmp_path / "t.db", create=True), modalities=("lips",), attempts=False)
    v.enroll("s2", sorted(need("grid-s2/video").glob("*.mpg"))[:3])
    still = v.verify("s2", lifeless["still"], liveness=True)
    motion = {c.name: c for c in still.checks}["motion"]
    assert not still.accepted and motion.status == "failed"


def test_geometry_sync_finds_the_offset_of_a_mouth_that_follows_its_sound():
    """A made-up clip whose mouth opens with a syllable-rate loudness: in sync it scores high
    at offset ~0; its sound 8 frames late scores low and is found at +8."""
    from lipauth.clip import AUDIO_RATE
    from lipauth.pad.sync_geometry import geometry_sync

    rng = np.random.default_rng(1)
    fps, n = 25.0, 100
    syllables = np.clip(np.convolve(rng.normal(size=n + 20), np.hanning(6), "same"), 0, None)[:n]  # 2-7 Hz bumps
    t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    points = np.stack([np.stack([np.cos(t), (0.3 + 0.6 * s) * np.sin(t)], axis=1) for s in syllables]).astype(np.float32) * 0.4 + 0.5
    per = int(AUDIO_RATE / fps)

    def sound(delay):
        loud = np.repeat(np.concatenate([np.zeros(delay), syllables])[:n], per)
        return (rng.normal(size=n * per) * (50 + 3000 * loud)).astype(np.int16)

    def clip(audio):
        return LipClip(frames=np.zeros((n, 18, 30), np.uint8), meta=ClipMeta("x"), fps=fps, landmarks=points, audio=audio)

    synced, late = geometry_sync(clip(sound(0))), geometry_sync(clip(sound(8)))
    assert abs(synced.best_offset) <= 1 and synced.score > 2.0
    assert late.best_offset == pytest.approx(8, abs=1) and late.score < synced.score - 1.5
    with pytest.raises(InvalidInputError):
        geometry_sync(LipClip(frames=np.zeros((n, 18, 30), np.uint8), meta=ClipMeta("x"), fps=fps))


def test_adding_clips_keeps_each_checks_state_and_enrols_checks_added_since(tmp_path, lip_model, monkeypatch):
    """A template enrolled before a check existed (here: before AV synchrony kept a capture
    skew) gets that check's state from the clips added later; what the others kept stays."""
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier
    from lipauth.pad.checks import PresentationChecks

    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)
    store = TemplateStore(tmp_path / "t.db", create=True)
    s2 = sorted(need("grid-s2/video").glob("*.mpg"))
    before = Verifier(lip_model, store, checks=PresentationChecks.load(("face_liveness_siamese",)), attempts=False, audit=False)
    first = before.enroll("s2", s2[:2])
    assert set(first.check_state) == {"face_liveness_siamese"}
    added = Verifier(lip_model, store, attempts=False, audit=False).enroll("s2", s2[2:3], mode="add")
    assert added.check_state["face_liveness_siamese"] == first.check_state["face_liveness_siamese"]
    assert len(added.check_state["av_sync"]["offsets"]) == 1 and added.check_state["av_sync"]["skew"] == [0]

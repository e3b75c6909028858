import json
import shutil

import numpy as np
import pytest

from lipauth.corpora.cache import load_clip
from lipauth.errors import InvalidInputError
from lipauth.corpora.preprocess import preprocess_corpus, read_manifest
from lipauth.video.encode import write_video
from lipauth.video.pipeline import PipelineConfig
from lipauth.clip import CropSpec
from tests.conftest import need


@pytest.fixture()
def mixed_folder(tmp_path, grid_decoded):
    """A `folder` corpus of 2 good clips and one of every kind of bad input."""
    root = tmp_path / "corpus"
    for spk in ("ann", "ben", "bad"):
        (root / spk).mkdir(parents=True)
    shutil.copy(need("grid-sample/lwbsza.mpg"), root / "ann" / "a.mpg")
    write_video(root / "ben" / "b.mp4", grid_decoded.frames[:40], 25.0, grid_decoded.audio[:25600])
    (root / "bad" / "text.mp4").write_text("not a video")
    (root / "bad" / "empty.avi").touch()
    write_video(root / "bad" / "short.mp4", grid_decoded.frames[:4], 25.0)
    noise = np.random.default_rng(1).integers(0, 255, (15, 96, 128, 3), dtype=np.uint8)
    write_video(root / "bad" / "noface.mp4", noise, 25.0)
    raw = need("crema-d-sample/1001_DFA_ANG_XX.flv").read_bytes()
    (root / "bad" / "cut.flv").write_bytes(raw[: len(raw) // 2])
    return root


def test_failures_are_recorded_and_the_batch_carries_on(tmp_path, mixed_folder):
    out = tmp_path / "out"
    summary = preprocess_corpus(mixed_folder, out, "folder")
    assert summary.total == 7 and summary.done == 2 and summary.n_failed == 5
    assert summary.failed == {"unreadable_video": 2, "too_few_frames": 1, "no_face": 1, "truncated_video": 1}
    assert summary.fta_rate == pytest.approx(5 / 7)
    rows = read_manifest(out / "manifest.csv")
    assert rows["ann_a"]["status"] == "done" and rows["ann_a"]["n_frames"] == "75" and rows["ann_a"]["speaker"] == "ann"
    assert rows["bad_short"]["error_code"] == "too_few_frames" and "4 frames" in rows["bad_short"]["error"]
    clip = load_clip(out / rows["ben_b"]["file"])
    assert clip.n_frames == 40 and clip.meta.speaker == "ben" and clip.frames.shape[1:] == (18, 30)
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["ann_a.npz", "ben_b.npz"]  # no temp files


def test_resume_skips_done_clips_and_recorded_failures(tmp_path, mixed_folder):
    out = tmp_path / "out"
    preprocess_corpus(mixed_folder, out, "folder")
    stamp = (out / "clips" / "ann_a.npz").stat().st_mtime_ns
    again = preprocess_corpus(mixed_folder, out, "folder")
    assert again.done == 0 and again.skipped == 2 and again.n_failed == 5
    assert (out / "clips" / "ann_a.npz").stat().st_mtime_ns == stamp
    retried = preprocess_corpus(mixed_folder, out, "folder", retry_failed=True)
    assert retried.done == 0 and retried.n_failed == 5  # they fail again, for the same reasons


def test_resume_after_a_crash_trusts_the_clip_files(tmp_path, mixed_folder):
    """Killed after writing a clip but before the manifest: nothing is redone or lost."""
    out = tmp_path / "out"
    preprocess_corpus(mixed_folder, out, "folder")
    (out / "manifest.csv").unlink()
    (out / "clips" / "ben_b.npz").unlink()
    summary = preprocess_corpus(mixed_folder, out, "folder")
    assert summary.done == 1 and summary.skipped == 1  # only ben_b was redone
    rows = read_manifest(out / "manifest.csv")
    assert rows["ann_a"]["status"] == "done" and rows["ann_a"]["n_frames"] == "75"
    assert len(rows) == 7


def test_other_settings_need_another_folder(tmp_path, mixed_folder):
    out = tmp_path / "out"
    preprocess_corpus(mixed_folder, out, "folder")
    assert json.loads((out / "preprocess.json").read_text())["pipeline"]["crop"]["width"] == 30
    with pytest.raises(InvalidInputError, match="other settings"):
        preprocess_corpus(mixed_folder, out, "folder", PipelineConfig(crop=CropSpec(80, 60)))
    # a folder made by an older decoder (its audio and frame rates may differ) is not mixed in
    settings = json.loads((out / "preprocess.json").read_text())
    del settings["decoder"]
    (out / "preprocess.json").write_text(json.dumps(settings))
    with pytest.raises(InvalidInputError, match="decoder version 1"):
        preprocess_corpus(mixed_folder, out, "folder")


def test_parallel_workers_give_the_same_clips(tmp_path):
    src = need("crema-d-sample")
    one = preprocess_corpus(src, tmp_path / "one", "crema-d", workers=1)
    two = preprocess_corpus(src, tmp_path / "two", "crema-d", workers=2)
    assert one.done == two.done == 6
    for name in ("1001_DFA_ANG_XX", "1001_DFA_SAD_XX"):
        a = load_clip(tmp_path / "one" / "clips" / f"{name}.npz")
        b = load_clip(tmp_path / "two" / "clips" / f"{name}.npz")
        np.testing.assert_array_equal(a.frames, b.frames)


def test_avletters_preprocesses_without_a_pipeline(tmp_path):
    src = need("avletters")
    summary = preprocess_corpus(src, tmp_path / "av", "avletters", PipelineConfig(crop=CropSpec(80, 60)))
    assert summary.done == 546 and summary.n_failed == 0
    clip = load_clip(tmp_path / "av" / "clips" / "B2_Kate.npz")
    assert clip.frames.shape[1:] == (60, 80) and clip.audio_features.shape[0] == 2 * clip.n_frames - 1


@pytest.mark.slow
@pytest.mark.parametrize("corpus, folder, n", [("crema-d", "crema-d-sample", 6), ("grid", "grid-sample", 11), ("grid", "grid-s2", 20)])
def test_every_shared_video_preprocesses_on_the_default_backend(tmp_path, corpus, folder, n):
    summary = preprocess_corpus(need(folder), tmp_path / folder, corpus, workers=2)
    assert summary.failures == [] and summary.done == n


def test_a_dask_cluster_of_two_workers_gives_the_local_output(tmp_path, mixed_folder):
    """`--dask local:2`: a real dask.distributed cluster (a scheduler and 2 worker processes
    on loopback) preprocesses the mixed folder: the same manifest rows (done and failed,
    with their error codes) and the same clips as one local process; a second run resumes."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install 'lipauth[cluster]')")
    local = preprocess_corpus(mixed_folder, tmp_path / "local", "folder", workers=1)
    spread = preprocess_corpus(mixed_folder, tmp_path / "dask", "folder", dask="local:2")
    assert (spread.done, spread.failed) == (local.done, local.failed) == (2, spread.failed) and spread.n_failed == 5
    keep = ("clip_id", "speaker", "status", "error_code", "n_frames", "fps", "file")
    a, b = read_manifest(tmp_path / "local" / "manifest.csv"), read_manifest(tmp_path / "dask" / "manifest.csv")
    assert list(a) == list(b) and all({k: a[c][k] for k in keep} == {k: b[c][k] for k in keep} for c in a)
    for row in a.values():
        if row["status"] == "done":
            x, y = load_clip(tmp_path / "local" / row["file"]), load_clip(tmp_path / "dask" / row["file"])
            np.testing.assert_array_equal(x.frames, y.frames)
            np.testing.assert_array_equal(x.audio, y.audio)
    again = preprocess_corpus(mixed_folder, tmp_path / "dask", "folder", dask="local:2")
    assert again.done == 0 and again.skipped == 2  # nothing left to do: no cluster work


def test_a_bad_dask_address_is_a_clear_error(tmp_path, mixed_folder, monkeypatch):
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    monkeypatch.setattr("lipauth.corpora.distributed.CONNECT_TIMEOUT_S", 2.0)
    with pytest.raises(InvalidInputError, match="local:N needs a number"):
        preprocess_corpus(mixed_folder, tmp_path / "o", "folder", dask="local:many")
    with pytest.raises(InvalidInputError, match="cannot reach the Dask scheduler"):
        preprocess_corpus(mixed_folder, tmp_path / "o2", "folder", dask="tcp://127.0.0.1:9")

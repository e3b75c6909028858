import shutil
from collections import Counter

import numpy as np
import pytest

from lipauth.corpora import corpus_names, get_corpus
from lipauth.corpora.avletters import check_alignment, read_htk, read_lips_mat
from lipauth.errors import CorpusError, EmptyCorpusError, InvalidInputError
from lipauth.clip import CropSpec
from tests.conftest import need


def test_registry():
    assert corpus_names() == ["avletters", "crema-d", "folder", "grid", "lipcrops", "talking-faces"]
    with pytest.raises(InvalidInputError, match="unknown corpus"):
        get_corpus("timit")


def test_crema_d_names():
    items = get_corpus("crema-d").items(need("crema-d-sample"))
    assert len(items) == 6
    emotions = sorted(i.meta.emotion for i in items)
    assert emotions == ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    m = items[0].meta
    assert (m.speaker, m.phrase, m.intensity, m.clip_id) == ("1001", "DFA", "XX", "1001_DFA_ANG_XX")


def test_grid_speaker_from_folder_name():
    items = get_corpus("grid").items(need("grid-s2"))
    assert len(items) == 20  # the .wav files beside them are not clips
    assert {i.meta.speaker for i in items} == {"s2"}
    assert items[0].meta.phrase == "bbaf2a" and items[0].meta.clip_id == "s2_bbaf2a"


def test_grid_flat_folder_and_mirror_labels():
    items = {i.path.name: i.meta for i in get_corpus("grid").items(need("grid-sample"))}
    assert len(items) == 11
    assert items["id2_vcd_swwp2s.mpg"].speaker == "id2" and items["id2_vcd_swwp2s.mpg"].phrase == "swwp2s"
    assert items["lwbsza.mpg"].speaker is None and items["lwbsza.mpg"].phrase == "lwbsza"


def test_grid_sN_layout(tmp_path):
    src = need("grid-sample/lwbsza.mpg")
    for spk in ("s1", "s34"):
        (tmp_path / spk).mkdir()
        shutil.copy(src, tmp_path / spk / "bbaf2n.mpg")
    items = get_corpus("grid").items(tmp_path)
    assert [(i.meta.speaker, i.meta.clip_id) for i in items] == [("s1", "s1_bbaf2n"), ("s34", "s34_bbaf2n")]


def test_folder_layouts(tmp_path):
    src = need("grid-sample/lwbsza.mpg")
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob" / "hello").mkdir(parents=True)
    shutil.copy(src, tmp_path / "alice" / "one.mpg")
    shutil.copy(src, tmp_path / "bob" / "hello" / "take1.mpg")
    shutil.copy(src, tmp_path / "loose.mpg")  # not speaker/clip: ignored
    items = get_corpus("folder").items(tmp_path)
    assert [(i.meta.speaker, i.meta.phrase, i.meta.clip_id) for i in items] == [
        ("alice", None, "alice_one"),
        ("bob", "hello", "bob_hello_take1"),
    ]


def test_empty_and_missing_corpora(tmp_path):
    with pytest.raises(EmptyCorpusError):
        get_corpus("crema-d").items(tmp_path)
    with pytest.raises(EmptyCorpusError):
        get_corpus("avletters").items(tmp_path)
    with pytest.raises(CorpusError, match="not a directory"):
        get_corpus("grid").items(tmp_path / "nope")


def test_avletters_has_546_clips_of_7_speakers():
    items = get_corpus("avletters").items(need("avletters"))
    assert len(items) == 546
    counts = Counter(i.meta.speaker for i in items)
    assert len(counts) == 7 and set(counts.values()) == {78}
    letters = Counter(i.meta.phrase for i in items)
    assert len(letters) == 26 and set(letters.values()) == {21}  # 7 speakers x 3 repetitions


def test_avletters_frames_are_upright_and_mfccs_aligned():
    reader = get_corpus("avletters")
    items = reader.items(need("avletters"))
    for item in items[::13]:
        raw = read_lips_mat(item.path)
        assert raw.shape[1:] == (60, 80)
        # Correct orientation makes neighbouring pixels alike (a wrong reshape scrambles them)
        # and the mouth a horizontal band: rows differ from each other more than columns.
        mean = raw.astype(float).mean(axis=0)
        assert np.abs(np.diff(mean, axis=1)).mean() < 3
        assert mean.mean(axis=1).std() > mean.mean(axis=0).std()
        clip = reader.load(item, crop=CropSpec(30, 18))
        assert clip.frames.shape == (raw.shape[0], 18, 30)
        check_alignment(clip)  # 2T-1 MFCC frames
        assert clip.audio_features.shape[1] == 26 and clip.audio_features_rate == 50.0
    assert all(12 <= read_lips_mat(i.path).shape[0] <= 40 for i in items[::50])


def test_htk_reader_rejects_damage(tmp_path):
    good = need("avletters/Audio/mfcc/Clean/A1_Anya.mfcc").read_bytes()
    assert read_htk(need("avletters/Audio/mfcc/Clean/A1_Anya.mfcc")).shape == (53, 26)
    bad = tmp_path / "cut.mfcc"
    bad.write_bytes(good[:100])
    with pytest.raises(CorpusError, match="HTK header says"):
        read_htk(bad)


def test_talking_faces_name_each_clips_person_from_the_manifest(tmp_path):
    from lipauth.corpora.base import get_corpus
    from lipauth.errors import CorpusError

    root = need("talking-faces")
    items = get_corpus("talking-faces").items(root)
    people = {i.meta.clip_id: i.meta.speaker for i in items}
    assert len(items) == 29 and len(set(people.values())) == 25
    assert people["hdtf_obama"] == "p01" and people["voxceleb2_741400104"] == people["voxceleb2_741400163"] == "p24"
    assert people["lrs3_00002"] == people["mead_W040_level_3_happy_029"] == "p03"  # one person, two sources
    (tmp_path / "a.mp4").write_bytes(b"")
    with pytest.raises(CorpusError, match="manifest.csv"):
        get_corpus("talking-faces").items(tmp_path)

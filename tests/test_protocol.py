import itertools

import pytest

from lipauth.clip import ClipMeta
from lipauth.protocol import Split, kfold_speakers, make_trials, split_speakers
from lipauth.training.sampling import PKSampler, challenging_triplets
from lipauth.errors import InvalidInputError


def _metas(n_spk=4, phrases="ABC", reps=2, emotions=None):
    out = []
    for s in range(n_spk):
        for p in phrases:
            for r in range(reps):
                out.append(ClipMeta(clip_id=f"s{s}_{p}{r}", speaker=f"s{s}", phrase=p, repetition=r))
    return out


def test_split_is_speaker_disjoint_and_seeded():
    spk = [f"a{i}" for i in range(88)]
    s = split_speakers(spk, n_val=11, n_test=11, seed=3)
    assert (len(s.train), len(s.val), len(s.test)) == (66, 11, 11)
    assert not (set(s.train) & set(s.val) or set(s.train) & set(s.test) or set(s.val) & set(s.test))
    assert split_speakers(spk, n_val=11, n_test=11, seed=3) == s
    assert split_speakers(spk, n_val=11, n_test=11, seed=4) != s
    with pytest.raises(InvalidInputError):
        split_speakers(["a", "b"], n_val=1, n_test=1, seed=0)
    with pytest.raises(InvalidInputError, match="disjoint"):
        Split(train=("a", "b"), val=("b",), test=())


def test_kfold_tests_every_speaker_once_and_never_trains_on_it():
    spk = [f"p{i}" for i in range(7)]
    folds = kfold_speakers(spk, k=3, seed=0, n_val=1)
    tested = [s for f in folds for s in f.test]
    assert sorted(tested) == sorted(spk)
    for f in folds:
        assert not set(f.test) & set(f.train) and not set(f.test) & set(f.val)
        assert len(f.test) >= 2 and len(f.val) == 1
    with pytest.raises(InvalidInputError):
        kfold_speakers(spk, k=4, seed=0)  # a fold would have 1 test speaker


def test_trials_by_kind_match_brute_force():
    metas = _metas()
    for kind, keep, gen in [
        ("text_independent", lambda a, b: True, lambda a, b: a.speaker == b.speaker),
        ("text_dependent", lambda a, b: a.phrase == b.phrase, lambda a, b: a.speaker == b.speaker),
        ("wrong_phrase", lambda a, b: a.speaker == b.speaker, lambda a, b: a.phrase == b.phrase),
    ]:
        t = make_trials(metas, kind)
        want = {(i, j): gen(metas[i], metas[j]) for i, j in itertools.combinations(range(len(metas)), 2) if keep(metas[i], metas[j])}
        assert dict(zip(zip(t.a.tolist(), t.b.tolist()), t.genuine.tolist())) == want


def test_impostor_subsampling_keeps_all_genuine():
    t = make_trials(_metas(n_spk=6), "text_independent", max_impostors=50, seed=1)
    full = make_trials(_metas(n_spk=6), "text_independent")
    assert t.n_impostor == 50 and t.n_genuine == full.n_genuine


def test_pk_sampler():
    labels = ["a"] * 10 + ["b"] * 3 + ["c"] * 8 + ["d"] * 5
    batches = list(PKSampler(labels, p=3, k=4, seed=0))
    assert len(batches) == len(labels) // 12
    for b in batches:
        labs = [labels[i] for i in b]
        assert len(b) == 12 and len(set(labs)) == 3 and all(labs.count(x) == 4 for x in set(labs))
    r0 = list(PKSampler(labels, p=3, k=4, seed=0, rank=0, world=2))
    r1 = list(PKSampler(labels, p=3, k=4, seed=0, rank=1, world=2))
    assert r0 != r1


def test_challenging_triplets_are_what_the_papers_say():
    metas = _metas(n_spk=3, phrases="ABCD", reps=3)
    trip = challenging_triplets(metas, 200, text_dependent=False, seed=0)
    for a, p, n in trip:
        A, P, N = metas[a], metas[p], metas[n]
        assert P.speaker == A.speaker and a != p and P.repetition != A.repetition and P.phrase == A.phrase
        assert N.speaker != A.speaker and N.phrase == A.phrase
    td = challenging_triplets(metas, 200, text_dependent=True, seed=0)
    wrong_phrase_negatives = sum(metas[n].speaker == metas[a].speaker for a, _, n in td)
    assert 50 < wrong_phrase_negatives < 150
    for a, _, n in td:
        if metas[n].speaker == metas[a].speaker:
            assert metas[n].phrase != metas[a].phrase

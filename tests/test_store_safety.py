"""The store never changes by surprise: an enrolled id is only replaced or extended when asked,
clips that disagree are refused with their scores, a mistyped store path is an error (only
enrolment creates a store, and says where its key is), and a missing key file is "missing"."""

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from lipauth.auth.store import TemplateStore
from lipauth.auth.templates import Template
from lipauth.auth.verifier import Verifier
from lipauth.cli import app
from lipauth.pad.checks import PresentationChecks
from lipauth.errors import FailureToEnrol, StoreExistsError, StoreNotFoundError, UnknownUserError
from tests.conftest import need

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch):
    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)


def _vectors_model(vectors: dict[str, np.ndarray], model):
    """A model whose 'videos' are names of given embeddings: the enrolment logic on its own.
    The policy (thresholds, calibration) is the real model's."""
    embedder = SimpleNamespace(
        verify_thresholds=model.embedder.verify_thresholds,
        thresholds=model.embedder.thresholds,
        calibration=model.embedder.calibration,
        fusion=None,
        embed_clips=lambda clips: np.stack(clips).astype(np.float32),
    )
    return SimpleNamespace(embedder=embedder, id=model.id, ids=model.ids, clip=lambda name, **options: vectors[name])


@pytest.fixture(scope="module")
def real_model(lip_model_file):
    from lipauth.api import load_model

    return load_model(lip_model_file)


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    base = rng.normal(size=64)
    other = rng.normal(size=64)
    same = {f"a{i}": _unit(base + 0.3 * rng.normal(size=64)) for i in range(5)}
    return {**same, "stranger": _unit(-base + 0.1 * other)}


def test_a_missing_store_path_is_an_error_and_creates_nothing(tmp_path):
    with pytest.raises(StoreNotFoundError, match="no template store"):
        TemplateStore(tmp_path / "typo.db")
    assert list(tmp_path.iterdir()) == []


def test_creating_a_store_names_its_new_key_file(tmp_path):
    s = TemplateStore(tmp_path / "t.db", create=True)
    assert s.created and s.key_created == tmp_path / "t.db.key" and (tmp_path / "t.db.key").exists()
    again = TemplateStore(tmp_path / "t.db", create=True)
    assert not again.created and again.key_created is None


def test_a_missing_key_file_is_missing_not_wrong_and_is_not_regenerated(tmp_path):
    s = TemplateStore(tmp_path / "t.db", create=True)
    s.put(Template.from_embeddings("ann", np.ones((1, 4)), "m"))
    s.close()
    (tmp_path / "t.db.key").rename(tmp_path / "elsewhere.key")
    for create in (False, True):
        with pytest.raises(StoreNotFoundError, match="key file .* is missing"):
            TemplateStore(tmp_path / "t.db", create=create)
    assert not (tmp_path / "t.db.key").exists()
    assert TemplateStore(tmp_path / "t.db", key_file=tmp_path / "elsewhere.key").get("ann").user_id == "ann"


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "notes.db").write_bytes(b"")
    with pytest.raises(StoreNotFoundError, match="holds no lipauth template store"):
        TemplateStore(tmp_path / "notes.db")


def test_put_never_overwrites_unless_asked(tmp_path):
    s = TemplateStore(tmp_path / "t.db", create=True)
    s.put(Template.from_embeddings("ann", np.ones((2, 4)), "m"))
    with pytest.raises(StoreExistsError, match="already enrolled \\(2 clips"):
        s.put(Template.from_embeddings("ann", np.zeros((3, 4)), "m"))
    assert s.get("ann").embeddings.shape == (2, 4) and s.get("ann").embeddings.max() == 1
    s.put(Template.from_embeddings("ann", np.zeros((3, 4)), "m"), replace=True)
    assert s.get("ann").embeddings.shape == (3, 4)


def test_enrolment_modes(tmp_path, vectors, real_model):
    store = TemplateStore(tmp_path / "t.db", create=True)
    v = Verifier(_vectors_model(vectors, real_model), store, checks=PresentationChecks([]))
    v.enroll("ann", ["a0", "a1"])
    with pytest.raises(StoreExistsError):
        v.enroll("ann", ["no-such-video"])  # refused before any video is read
    assert v.enroll("ann", ["a2", "a3"], mode="add").embeddings.shape[0] == 4
    np.testing.assert_array_equal(store.get("ann").embeddings[2], vectors["a2"])
    assert v.enroll("ann", ["a4", "a0"], mode="replace").embeddings.shape[0] == 2
    np.testing.assert_array_equal(store.get("ann").embeddings[0], vectors["a4"])
    with pytest.raises(UnknownUserError):
        v.enroll("bob", ["a0"], mode="add")


def test_clips_that_disagree_are_refused_with_their_scores(tmp_path, vectors, real_model):
    store = TemplateStore(tmp_path / "t.db", create=True)
    v = Verifier(_vectors_model(vectors, real_model), store, checks=PresentationChecks([]))
    with pytest.raises(FailureToEnrol, match=r"stranger scores lips -0\.\d+ against the other clips"):
        v.enroll("ann", ["a0", "a1", "stranger"])
    assert "ann" not in store
    v.enroll("ann", ["a0", "a1"])
    with pytest.raises(FailureToEnrol, match="stranger scores"):
        v.enroll("ann", ["stranger"], mode="add")  # checked against the enrolled clips too
    assert store.get("ann").embeddings.shape[0] == 2


# -- the CLI ----------------------------------------------------------------------------
def test_cli_store_safety(tmp_path, lip_model_file):
    videos = [str(p) for p in sorted(need("grid-s2/video").glob("*.mpg"))]
    db = str(tmp_path / "t.db")
    common = ["--store", db, "--model", str(lip_model_file)]
    res = runner.invoke(app, ["verify", "s2", videos[0], *common])
    assert res.exit_code == 2 and "no template store" in res.output and not os.path.exists(db)
    res = runner.invoke(app, ["users", "list", "--store", db])
    assert res.exit_code == 2 and "no template store" in res.output and not os.path.exists(db)

    res = runner.invoke(app, ["enroll", "s2", *videos[:2], *common])
    assert res.exit_code == 0, res.output
    assert "created the template store" in res.output and f"{db}.key" in res.output and "back it up" in res.output
    res = runner.invoke(app, ["enroll", "s2", *videos[2:4], *common])
    assert res.exit_code == 2 and "already enrolled (2 clips" in res.output and "--replace" in res.output
    res = runner.invoke(app, ["enroll", "s2", *videos[2:4], *common, "--add"])
    assert res.exit_code == 0 and "4 clips" in res.output, res.output
    res = runner.invoke(app, ["enroll", "s2", videos[5], *common, "--replace"])
    assert res.exit_code == 0 and "1 clips" in res.output
    res = runner.invoke(app, ["enroll", "s2", videos[5], *common, "--replace", "--add"])
    assert res.exit_code == 2 and "exclude each other" in res.output
    res = runner.invoke(app, ["users", "list", "--store", db, "--json"])
    users = json.loads(res.output)["users"]
    assert [(u["user_id"], u["n_clips"]) for u in users] == [("s2", 1)]

    os.rename(f"{db}.key", tmp_path / "moved.key")
    res = runner.invoke(app, ["verify", "s2", videos[6], *common])
    assert res.exit_code == 2 and "is missing" in res.output and not os.path.exists(f"{db}.key")


def test_a_sqlite_store_overwrites_deleted_rows_and_commits_without_an_fsync_each(tmp_path, monkeypatch):
    """secure_delete on; WAL with synchronous NORMAL (1): corruption-safe, durable across a
    process crash, and no fsync per commit (FULL, 2, cost each verify's audit row ~20 ms)."""
    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)
    store = TemplateStore(tmp_path / "t.db", create=True)
    with store.engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert (pragma("secure_delete"), pragma("journal_mode"), pragma("synchronous")) == (1, "wal", 1)

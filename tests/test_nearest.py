"""The nearest-template index identify uses: exact while small, an HNSW graph when large,
users replaced and removed in both, and kept in step with the store by its change log."""

import numpy as np
import pytest

from lipauth.auth.indexed import IndexedTemplates
from lipauth.auth.store import TemplateStore
from lipauth.auth.templates import Template
from lipauth.scoring.nearest import NearestTemplates
from lipauth.scoring.templates import self_similarity, template_vector


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def vectors():
    return unit(np.random.default_rng(0).standard_normal((400, 32)))


@pytest.mark.parametrize("exact_below", [10_000, 100])
def test_the_nearest_user_is_found_and_users_come_and_go(vectors, exact_below):
    index = NearestTemplates(exact_below=exact_below)
    index.upsert_many([f"u{i}" for i in range(len(vectors))], vectors, [None] * len(vectors))
    assert index.approximate == (exact_below == 100) and len(index) == 400
    noisy = unit(vectors[:50] + 0.1 * np.random.default_rng(1).standard_normal((50, 32)))
    assert [index.search(q, 1)[0][0] for q in noisy] == [f"u{i}" for i in range(50)]
    top = index.search(vectors[7], 3)
    assert top[0] == ("u7", pytest.approx(1.0, abs=1e-5)) and top[1][1] >= top[2][1]

    index.upsert("u7", vectors[8], own=0.4)  # u7 enrolled again, now like u8
    assert {u for u, _ in index.search(vectors[8], 2)} == {"u7", "u8"} and index.own["u7"] == 0.4
    assert "u7" not in [u for u, _ in index.search(vectors[7], 5)[:1]]
    index.remove("u8")
    assert [u for u, _ in index.search(vectors[8], 1)] == ["u7"] and len(index) == 399
    for i in range(100, 160):  # past a tenth removed: the inverted file is made again without them
        index.remove(f"u{i}")
    assert len(index) == 339 and all(u not in {f"u{i}" for i in range(100, 160)} for u, _ in index.search(vectors[120], 20))
    assert index.search(vectors[200], 1)[0][0] == "u200"


def test_an_empty_index_finds_nobody():
    assert NearestTemplates().search(np.ones(8, np.float32), 5) == []


def test_the_index_follows_the_store_written_by_another_process(tmp_path, monkeypatch):
    import sqlalchemy as sa
    from cryptography.fernet import Fernet

    from lipauth.auth.store import changes_table

    monkeypatch.setenv("LIPAUTH_STORE_KEY", Fernet.generate_key().decode())
    rng = np.random.default_rng(2)
    clips = {u: unit(rng.standard_normal((3, 16))) for u in ("ann", "bob", "cat")}
    here = TemplateStore(tmp_path / "t.db", create=True)
    for u in ("ann", "bob"):
        here.put(Template.from_embeddings(u, clips[u], "m"))
    here.put(Template.from_embeddings("old", clips["cat"], "another-model"))  # not comparable: not indexed
    indexed = IndexedTemplates(here, "m")
    assert len(indexed.index) == 2 and indexed.index.own["ann"] == pytest.approx(self_similarity(clips["ann"]))

    there = TemplateStore(tmp_path / "t.db")  # another process's handle on the same store
    there.put(Template.from_embeddings("cat", clips["cat"], "m"))
    there.delete("bob")
    there.put(Template.from_embeddings("ann", clips["bob"], "m"), replace=True)
    with there.engine.connect() as conn:  # the deletion left no trace of bob's id in the log
        assert "bob" not in {r.user_id for r in conn.execute(sa.select(changes_table)).all()}
    near = indexed.nearest(template_vector(clips["cat"]), 5)
    assert [u for u, _, _ in near][0] == "cat" and {u for u, _, _ in near} == {"ann", "cat"}
    assert indexed.nearest(template_vector(clips["bob"]), 1)[0][0] == "ann"  # ann's new template
    assert indexed.refresh() == 0  # nothing new since


def test_a_user_enrolled_after_the_index_and_then_deleted_leaves_it(tmp_path, monkeypatch):
    """The deletion's entry in the change log comes after every entry a reader has seen: the
    log once deleted the user's own entries, and SQLite gave the newest one's number to the
    deletion, which an index that had read that number never saw (identify then shortlisted
    a user the store no longer had)."""
    from cryptography.fernet import Fernet

    monkeypatch.setenv("LIPAUTH_STORE_KEY", Fernet.generate_key().decode())
    store = TemplateStore(tmp_path / "t.db", create=True)
    store.put(Template.from_embeddings("ann", unit(np.ones((2, 4))), "m"))
    indexed = IndexedTemplates(store, "m")
    bob = unit(np.eye(4)[:2])
    store.put(Template.from_embeddings("bob", bob, "m"))
    assert indexed.nearest(template_vector(bob), 1)[0][0] == "bob"
    store.delete("bob")
    assert [u for u, _, _ in indexed.nearest(template_vector(bob), 5)] == ["ann"]


def test_a_store_from_before_the_change_log_gains_it_at_its_next_write(tmp_path, monkeypatch):
    import sqlalchemy as sa
    from cryptography.fernet import Fernet

    monkeypatch.setenv("LIPAUTH_STORE_KEY", Fernet.generate_key().decode())
    s = TemplateStore(tmp_path / "t.db", create=True)
    s.put(Template.from_embeddings("ann", unit(np.ones((2, 4))), "m"))
    with s.engine.begin() as conn:
        conn.execute(sa.text("drop table changes"))  # as a store made before this version
    old = TemplateStore(tmp_path / "t.db")
    assert old.change_seq() == 0 and old.changes_since(0) == (0, [], [])
    indexed = IndexedTemplates(old, "m")
    assert len(indexed.index) == 1
    old.put(Template.from_embeddings("bob", unit(np.eye(4)[:2]), "m"))
    assert indexed.refresh() == 1 and len(indexed.index) == 2


def test_service_identify_uses_the_index_and_sees_other_processes_enrolments(tmp_path, monkeypatch, lip_model_file):
    """The service builds the index at start; a user enrolled afterwards by another process
    (the CLI, another worker) is found without a restart; the candidates are those of the
    exact search, with the same scores and thresholds."""
    from cryptography.fernet import Fernet
    from fastapi.testclient import TestClient

    from lipauth.api import load_model
    from lipauth.auth.verifier import Verifier
    from lipauth.service.app import create_app
    from tests.conftest import need

    monkeypatch.setenv("LIPAUTH_STORE_KEY", Fernet.generate_key().decode())
    s2 = sorted(need("grid-s2/video").glob("*.mpg"))
    sample = {p.stem: p for p in need("grid-sample").glob("*.mpg")}
    model = load_model(lip_model_file)
    service_side = Verifier(model, TemplateStore(tmp_path / "t.db", create=True))
    service_side.enroll("s2", s2[:2])
    client = TestClient(create_app(service_side, api_key="k"))
    assert service_side.index is not None and len(service_side.index.index) == 1

    elsewhere = Verifier(model, TemplateStore(tmp_path / "t.db"))  # no index: exact search
    elsewhere.enroll("s1", [sample["bbaf2n"]])
    elsewhere.enroll("brbk7n", [sample["brbk7n"]])
    r = client.post("/v1/identify?k=3", files=[("video", ("probe.mpg", s2[5].read_bytes(), "video/mpeg"))], headers={"X-API-Key": "k"})
    assert r.status_code == 200, r.text
    got = r.json()["candidates"]
    want = [c.to_dict() for c in elsewhere.identify(s2[5], 3)]
    assert [c["user"] for c in got] == [c["user"] for c in want] and {c["user"] for c in got} == {"s2", "s1", "brbk7n"}
    for g, w in zip(got, want):
        assert g["score"] == pytest.approx(w["score"], abs=1e-5) and g["threshold"] == pytest.approx(w["threshold"], abs=1e-6) and g["accepted"] == w["accepted"] and g.keys() == w.keys()


def test_the_index_loads_the_same_in_parallel_processes(tmp_path):
    """A large store is split by user id between processes at start-up: the same users,
    vectors and self-similarities as one process reading it all."""
    from lipauth.auth.indexed import IndexedTemplates
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.templates import Template

    store = TemplateStore(tmp_path / "t.db", create=True)
    rng = np.random.default_rng(0)
    for i in range(40):
        e = rng.standard_normal((1 + i % 3, 8)).astype(np.float32)
        store.put(Template.from_embeddings(f"u{i:02d}", e / np.linalg.norm(e, axis=1, keepdims=True), "m" if i % 5 else "other"))
    one, two = IndexedTemplates(store, "m", workers=1), IndexedTemplates(store, "m", workers=2)
    assert sorted(one.index.own) == sorted(two.index.own) and len(one.index) == 32
    for u in one.index.own:
        assert one.index.own[u] == pytest.approx(two.index.own[u]) if one.index.own[u] is not None else two.index.own[u] is None
    probe = rng.standard_normal(8).astype(np.float32)
    a, b = (x.index.search(probe / np.linalg.norm(probe), 5) for x in (one, two))
    assert [u for u, _ in a] == [u for u, _ in b] and [s for _, s in a] == pytest.approx([s for _, s in b])


def test_the_voice_and_face_are_indexed_after_start_with_the_changes_made_meanwhile(tmp_path, monkeypatch):
    """IndexedTemplates(modalities=...) indexes the other modalities in a thread after start
    (they need each template decrypted whole); users enrolled and deleted while it reads the
    store are applied before the indexes join, and the change log keeps them in step after."""
    from cryptography.fernet import Fernet

    monkeypatch.setenv("LIPAUTH_STORE_KEY", Fernet.generate_key().decode())
    store = TemplateStore(tmp_path / "t.db", create=True)
    face = {u: unit(np.eye(8)[i : i + 1]) for i, u in enumerate(("ann", "bob", "cat", "dan"))}

    def put(u, with_face=True):
        store.put(Template.from_embeddings(u, unit(np.ones((1, 4))), "m", modalities={"face": face[u]} if with_face else None), replace=True)

    put("ann"), put("bob"), put("dan", with_face=False)
    reading = store.iter_templates

    def meanwhile(*args, **kwargs):  # while the thread reads the store, another process writes it
        batches = list(reading(*args, **kwargs))
        put("cat")
        store.delete("ann")
        return iter(batches)

    monkeypatch.setattr(store, "iter_templates", meanwhile)
    indexed = IndexedTemplates(store, "m", modalities=("face",))
    assert indexed.wait_for_modalities(30)
    assert set(indexed.by_modality["face"].own) == {"bob", "cat"}  # ann gone, dan has no face
    assert indexed.nearest_by("face", face["cat"][0], 1)[0][0] == "cat"
    put("dan")  # after start: the change log
    assert indexed.nearest_by("face", face["dan"][0], 1)[0][0] == "dan"
    assert indexed.nearest_by("voice", face["dan"][0], 1) == []  # not indexed

"""The template payload: binary (what lipauth writes), JSON (what it wrote before, still read),
and the index's batch arithmetic against the one-template functions."""

import json

import numpy as np
import pytest

from lipauth.auth.passphrase import hash_passphrase
from lipauth.auth.templates import MAGIC, Template
from lipauth.scoring.templates import self_similarity, template_vector, template_vectors


def _unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def template():
    rng = np.random.default_rng(3)
    return Template.from_embeddings(
        "alice", _unit(rng.standard_normal((3, 192))), "model-1", hash_passphrase("open sesame"), {"face_liveness": {"refs": [[1.0, 2.0]], "model_id": "x"}},
        {"voice": _unit(rng.standard_normal((2, 256))), "face": _unit(rng.standard_normal((3, 128)))},
    )


def test_binary_payload_round_trips_every_field(template):
    data = template.to_bytes()
    assert data[:4] == MAGIC
    back = Template.from_bytes("alice", data)
    np.testing.assert_array_equal(back.embeddings, template.embeddings)
    assert back.modalities.keys() == {"voice", "face"} and back.modalities["voice"].shape == (2, 256)
    np.testing.assert_array_equal(back.modalities["face"], template.modalities["face"])
    assert (back.model_id, back.passphrase_hash, back.created_at, back.check_state) == (template.model_id, template.passphrase_hash, template.created_at, template.check_state)
    assert back.embeddings.dtype == np.float32 and not back.embeddings.flags.writeable  # a view of the payload, never changed
    # a tenth of the JSON it replaces
    old = json.dumps({"embeddings": template.embeddings.tolist(), "modalities": {k: v.tolist() for k, v in template.modalities.items()}}).encode()
    assert len(data) < len(old) / 2


def test_json_payloads_written_before_are_still_read(template):
    old = {"embeddings": template.embeddings.tolist(), "model_id": "model-1", "passphrase": "open sesame", "created_at": "2026-01-01T00:00:00+00:00",
           "modalities": {"voice": template.modalities["voice"].tolist()}}  # fmt: skip
    back = Template.from_bytes("alice", json.dumps(old).encode())
    np.testing.assert_allclose(back.embeddings, template.embeddings)
    assert back.passphrase_hash is not None and back.passphrase_hash != "open sesame"  # hashed on read
    assert back.modalities["voice"].shape == (2, 256)


def test_batch_template_vectors_match_one_at_a_time():
    rng = np.random.default_rng(1)
    templates = [_unit(rng.standard_normal((n, 16))) for n in (1, 3, 2, 3, 5, 1)]
    vectors, owns = template_vectors(templates)
    for i, e in enumerate(templates):
        np.testing.assert_allclose(vectors[i], template_vector(e), atol=1e-5)
        assert owns[i] == pytest.approx(self_similarity(e), abs=1e-5) if len(e) > 1 else owns[i] is None


def test_the_store_seals_two_parts_and_the_index_reads_only_the_lips(template, tmp_path):
    from lipauth.auth.store import SEALED, TemplateStore, users_table

    store = TemplateStore(tmp_path / "t.db", create=True)
    store.put(template)
    with store.engine.connect() as conn:
        payload = conn.execute(users_table.select()).first().payload
    assert payload[:4] == SEALED and b"model-1" not in payload  # encrypted, in two parts
    back = store.get("alice")
    np.testing.assert_array_equal(back.modalities["voice"], template.modalities["voice"])
    assert back.check_state == template.check_state and back.passphrase_hash == template.passphrase_hash
    [[(user, model_id, emb)]] = list(store.iter_index())
    assert (user, model_id) == ("alice", "model-1")
    np.testing.assert_array_equal(emb, template.embeddings)
    # a template stored before the parts (one Fernet token of the JSON payload) still reads
    old = json.dumps({"embeddings": template.embeddings.tolist(), "model_id": "model-0", "created_at": "2026-01-01T00:00:00+00:00"}).encode()
    with store.engine.begin() as conn:
        conn.execute(users_table.insert().values(user_id="bob", created_at="x", updated_at="x", n_clips=3, payload=store.cipher.encrypt(old)))
    assert store.get("bob").model_id == "model-0"
    assert {u: m for batch in store.iter_index() for u, m, _ in batch} == {"alice": "model-1", "bob": "model-0"}

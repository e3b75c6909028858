"""The template store on a real PostgreSQL server as well as SQLite: the same behaviour, the
encryption at rest, and consistency when several processes enrol, verify and redeem
challenges at once."""

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from lipauth.auth.passphrase import hash_passphrase
from lipauth.auth.challenges import ChallengeBook
from lipauth.auth.store import TemplateStore
from lipauth.auth.templates import Template
from lipauth.cli import app
from lipauth.errors import ChallengeError, StoreExistsError, StoreKeyError, StoreNotFoundError, UnknownUserError
from tests.conftest import need

runner = CliRunner()


@pytest.fixture(autouse=True)
def store_key(monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("LIPAUTH_STORE_KEY", key)
    return key


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "t.db")
    return request.getfixturevalue("postgres_url")


def test_the_store_behaves_the_same_on_each_database(location, store_key, monkeypatch):
    with pytest.raises(StoreNotFoundError):
        TemplateStore(location)  # an empty database is not a store until enrolment makes it one
    s = TemplateStore(location, create=True)
    secret = np.full((2, 8), 0.123456789, np.float32)
    s.put(Template.from_embeddings("ann", secret, "m", passphrase_hash=hash_passphrase("hunter2")))
    with pytest.raises(StoreExistsError):
        s.put(Template.from_embeddings("ann", np.ones((1, 8)), "m"))
    np.testing.assert_array_equal(TemplateStore(location).get("ann").embeddings, secret)
    with s.engine.connect() as conn:
        payload = conn.execute(sa.text("select payload from users")).scalar()
    assert b"hunter2" not in bytes(payload) and b"0.1234" not in bytes(payload)
    assert [u["user_id"] for u in s.users()] == ["ann"]
    s.delete("ann")
    with pytest.raises(UnknownUserError):
        s.get("ann")
    monkeypatch.setenv("LIPAUTH_STORE_KEY", Fernet.generate_key().decode())
    with pytest.raises(StoreKeyError):
        TemplateStore(location)


WRITER = """
import sys, numpy as np
from lipauth.auth.store import TemplateStore
from lipauth.auth.templates import Template
from lipauth.errors import StoreExistsError
location, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = TemplateStore(location)
refused = 0
for i in range(n):
    store.put(Template.from_embeddings(f"{who}-{i}", np.full((3, 16), i, np.float32), "m"))
    try:
        store.put(Template.from_embeddings(f"race-{i}", np.full((2, 16), i, np.float32), "m"))
    except StoreExistsError:
        refused += 1
    store.get(f"{who}-{i}")
print(refused)
"""


def test_concurrent_writers_from_several_processes_keep_the_store_consistent(location):
    """Four processes enrol their own users and race each other for the same ids: every own
    user is complete, and each raced id was stored once, the three others refused."""
    TemplateStore(location, create=True).close()
    n = 15
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, location, f"w{k}", str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ) for k in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e[-500:] for _, e in outs]
    assert sum(int(o) for o, _ in outs) == 3 * n
    store = TemplateStore(location)
    users = {u["user_id"]: u["n_clips"] for u in store.users()}
    assert len(users) == 4 * n + n
    for k in range(4):
        for i in range(n):
            assert users[f"w{k}-{i}"] == 3 and store.get(f"w{k}-{i}").embeddings[0, 0] == i
    assert all(users[f"race-{i}"] == 2 for i in range(n))


def test_a_challenge_raced_by_many_connections_is_redeemed_once(location):
    store = TemplateStore(location, create=True)
    store.put(Template.from_embeddings("ann", np.ones((1, 4)), "m"), replace=True)  # challenges are for enrolled users
    c = ChallengeBook(store).issue("ann")
    barrier = threading.Barrier(8, timeout=60)

    def attempt(_):
        book = ChallengeBook(TemplateStore(location))
        barrier.wait()
        try:
            book.redeem(c.challenge_id, "ann")
            return True
        except ChallengeError:
            return False

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(attempt, range(8))) == [False] * 7 + [True]


def test_enrol_and_verify_real_videos_on_postgresql(postgres_url, lip_model_file):
    videos = [str(p) for p in sorted(need("grid-s2/video").glob("*.mpg"))]
    common = ["--store", postgres_url, "--model", str(lip_model_file)]
    res = runner.invoke(app, ["enroll", "s2", *videos[:3], *common])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["verify", "s2", videos[5], *common, "--json"])
    genuine = json.loads(res.output)
    other = str(need("crema-d-sample/1001_DFA_HAP_XX.flv"))
    impostor = json.loads(runner.invoke(app, ["verify", "s2", other, *common, "--json"]).output)
    assert genuine["accepted"] and not impostor["accepted"] and genuine["score"] > impostor["score"]
    res = runner.invoke(app, ["users", "list", "--store", postgres_url, "--json"])
    assert [u["user_id"] for u in json.loads(res.output)["users"]] == ["s2"]


def test_failed_attempts_from_many_connections_all_count(location):
    from lipauth.auth.attempts import AttemptLimiter, AttemptPolicy

    TemplateStore(location, create=True).close()
    policy = AttemptPolicy(max_failures=100, window_s=600, cooldown_s=600)
    barrier = threading.Barrier(8, timeout=60)

    def fail(_):
        limiter = AttemptLimiter(TemplateStore(location), policy)
        barrier.wait()
        for _ in range(3):
            limiter.record("ann", accepted=False)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fail, range(8)))
    assert AttemptLimiter(TemplateStore(location), policy).failures("ann") == 24


def test_the_audit_trail_appends_on_each_database(location):
    """Two service workers (two AuditLogs on one database) append to one trail; the ids
    keep the order rows were written in."""
    from lipauth.auth.audit import AuditLog, Origin

    store = TemplateStore(location, create=True)
    first, second = AuditLog(store), AuditLog(TemplateStore(location))
    for i in range(3):
        (first if i % 2 == 0 else second).record("verify", "ann", "rejected", {"score": 0.1 * i, "threshold": 0.5}, model_id="m", origin=Origin("10.0.0.9", f"r{i}"))
    rows = first.entries(user_id="ann")
    assert [r.request_id for r in rows] == ["r2", "r1", "r0"] and rows[0].details == {"score": 0.2, "threshold": 0.5}
    assert rows[0].id > rows[1].id > rows[2].id

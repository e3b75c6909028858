"""Attempt limits: a user is locked for a cool-down after too many failed verifications,
counted in the store (shared by processes), reset by a success, cleared by an admin."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lipauth.auth.attempts import AttemptLimiter, AttemptPolicy
from lipauth.auth.store import TemplateStore
from lipauth.cli import app
from lipauth.errors import InvalidInputError, TooManyAttemptsError
from tests.conftest import need

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch):
    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)


@pytest.fixture
def limiter(tmp_path):
    now = [1_000.0]
    lim = AttemptLimiter(TemplateStore(tmp_path / "t.db", create=True), AttemptPolicy(max_failures=3, window_s=60, cooldown_s=300), clock=lambda: now[0])
    lim.advance = lambda s: now.__setitem__(0, now[0] + s)
    return lim


def test_the_limit_locks_for_the_cooldown_then_lets_the_user_try_again(limiter):
    for _ in range(2):
        limiter.record("ann", accepted=False)
        limiter.check("ann")
    limiter.record("ann", accepted=False)
    with pytest.raises(TooManyAttemptsError, match="try again in 300 s") as err:
        limiter.check("ann")
    assert err.value.retry_after_s == pytest.approx(300)
    limiter.check("bob")  # others are not affected
    limiter.advance(299)
    with pytest.raises(TooManyAttemptsError):
        limiter.check("ann")
    limiter.advance(2)
    limiter.check("ann")
    limiter.record("ann", accepted=False)  # a new window after the cool-down
    assert limiter.failures("ann") == 1


def test_a_success_resets_and_old_failures_expire(limiter):
    limiter.record("ann", False)
    limiter.record("ann", False)
    limiter.record("ann", True)
    assert limiter.failures("ann") == 0
    limiter.record("ann", False)
    limiter.record("ann", False)
    limiter.advance(61)  # outside the 60 s window: counting starts again
    limiter.record("ann", False)
    assert limiter.failures("ann") == 1
    limiter.check("ann")


def test_an_admin_clears_a_lock(limiter):
    for _ in range(3):
        limiter.record("ann", False)
    assert limiter.clear("ann") and not limiter.clear("ann")
    limiter.check("ann")


def test_limits_must_be_positive():
    with pytest.raises(InvalidInputError):
        AttemptPolicy(max_failures=0)


def test_cli_locks_after_failures_and_unlock_clears(tmp_path, lip_model_file):
    videos = [str(p) for p in sorted(need("grid-s2/video").glob("*.mpg"))]
    db = str(tmp_path / "t.db")
    common = ["--store", db, "--model", str(lip_model_file)]
    assert runner.invoke(app, ["enroll", "s2", *videos[:2], *common]).exit_code == 0
    reject = ["verify", "s2", videos[4], *common, "--operating-point", "1.01", "--max-failures", "2"]
    assert [runner.invoke(app, reject).exit_code for _ in range(2)] == [1, 1]
    res = runner.invoke(app, [*reject[:2], str(tmp_path / "missing-but-locked-first.mp4"), *reject[3:]])
    assert res.exit_code == 2 and "no such file" in res.output  # arguments are checked before anything
    res = runner.invoke(app, reject)
    assert res.exit_code == 2 and "too many failed attempts for 's2'" in res.output
    res = runner.invoke(app, ["users", "unlock", "s2", "--store", db])
    assert res.exit_code == 0 and "cleared" in res.output
    accept = ["verify", "s2", videos[4], *common, "--operating-point", "-1", "--json"]
    assert json.loads(runner.invoke(app, accept).output)["accepted"] is True
    assert AttemptLimiter(TemplateStore(db)).failures("s2") == 0


def test_service_answers_429_with_retry_after(lip_model_file, tmp_path):
    from fastapi.testclient import TestClient

    from lipauth.api import load_model
    from lipauth.auth.verifier import Verifier
    from lipauth.service.app import create_app

    store = TemplateStore(tmp_path / "t.db", create=True)
    limiter = AttemptLimiter(store, AttemptPolicy(max_failures=1, window_s=60, cooldown_s=120))
    verifier = Verifier(load_model(lip_model_file), store, operating_point=1.01, attempts=limiter)
    client = TestClient(create_app(verifier, api_key="k"))
    videos = sorted(need("grid-s2/video").glob("*.mpg"))
    h = {"X-API-Key": "k"}
    files = lambda p, field: [(field, (p.name, p.read_bytes(), "video/mpeg"))]  # noqa: E731
    assert client.post("/v1/users/s2/enroll", files=files(videos[0], "videos"), headers=h).status_code == 201
    r = client.post("/v1/users/s2/verify", files=files(videos[3], "video"), headers=h)
    assert r.status_code == 200 and r.json()["accepted"] is False
    r = client.post("/v1/users/s2/verify", files=files(videos[3], "video"), headers=h)
    assert r.status_code == 429 and r.json()["error"] == "too_many_attempts" and 100 <= int(r.headers["Retry-After"]) <= 120
    np.testing.assert_equal(limiter.failures("s2"), 1)

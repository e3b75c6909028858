"""The audit trail: a row for every enrol, verify, identify and delete (and for the service's
refusals before them), with the decision and every check's score, never the video or an
embedding; `lipauth audit` shows and filters it."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lipauth.auth.audit import AuditLog, Origin, audited
from lipauth.auth.store import TemplateStore
from lipauth.cli import app
from lipauth.errors import InvalidInputError, UnknownUserError
from tests.conftest import need

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch):
    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)


def test_rows_are_written_once_and_filtered(tmp_path):
    now = [1_000.0]
    log = AuditLog(TemplateStore(tmp_path / "t.db", create=True), clock=lambda: now[0])
    with audited(log, "verify", "ann", Origin("10.0.0.1", "r1"), "m") as rec:
        rec.done("accepted", score=0.9, threshold=0.5, checks=[])
    now[0] += 10
    with pytest.raises(UnknownUserError):
        with audited(log, "verify", "bob", Origin("10.0.0.2", "r2"), "m"):  # the outer record of a service
            with audited(log, "verify", "bob", Origin("10.0.0.2", "r2"), "m"):  # the verifier's own
                raise UnknownUserError("no user 'bob' is enrolled")
    rows = log.entries()
    assert [(r.user_id, r.outcome, r.client, r.request_id) for r in rows] == [("bob", "unknown_user", "10.0.0.2", "r2"), ("ann", "accepted", "10.0.0.1", "r1")]
    assert rows[0].details == {"message": "no user 'bob' is enrolled"} and rows[1].details["score"] == 0.9
    assert [r.user_id for r in log.entries(outcome="accepted")] == ["ann"]
    assert [r.user_id for r in log.entries(since=1_005.0)] == ["bob"]
    assert log.entries(user_id="carol") == [] and len(log.entries(limit=1)) == 1
    with pytest.raises(InvalidInputError, match="audit event"):
        log.record("login", "ann", "accepted", {}, model_id=None, origin=Origin())


def test_the_cli_audits_enrol_verify_identify_delete_and_shows_them(tmp_path, lip_model_file):
    videos = [str(p) for p in sorted(need("grid-s2/video").glob("*.mpg"))]
    db = str(tmp_path / "t.db")
    common = ["--store", db, "--model", str(lip_model_file)]
    assert runner.invoke(app, ["enroll", "s2", *videos[:2], *common]).exit_code == 0
    accept = json.loads(runner.invoke(app, ["verify", "s2", videos[4], *common, "--operating-point", "-1", "--json"]).output)
    assert runner.invoke(app, ["verify", "s2", videos[5], *common, "--operating-point", "1.01"]).exit_code == 1
    assert runner.invoke(app, ["verify", "nobody", videos[5], *common]).exit_code == 2
    assert runner.invoke(app, ["identify", videos[6], *common]).exit_code == 0
    assert runner.invoke(app, ["users", "delete", "s2", "--store", db]).exit_code == 0

    rows = [json.loads(line) for line in runner.invoke(app, ["audit", "--store", db, "--json"]).output.splitlines()]
    assert [(r["event"], r["user_id"], r["outcome"]) for r in rows] == [
        ("delete", "s2", "deleted"),
        ("identify", None, rows[1]["outcome"]),
        ("verify", "nobody", "unknown_user"),
        ("verify", "s2", "rejected"),
        ("verify", "s2", "accepted"),
        ("enrol", "s2", "enrolled"),
    ]
    assert rows[1]["outcome"] in ("matched", "no_match") and [c["user"] for c in rows[1]["details"]["candidates"]] == ["s2"]
    assert rows[4]["details"]["score"] == pytest.approx(accept["score"]) and rows[4]["details"]["threshold"] == pytest.approx(-1)
    assert rows[5]["details"] == {"mode": "new", "n_clips": 2, "n_new_clips": 2}
    assert all(r["client"].startswith("cli (") and len(r["request_id"]) == 32 for r in rows)
    assert len({r["request_id"] for r in rows}) == len(rows)
    # nothing biometric: scores, thresholds and decisions, no embedding or video
    keys = {k for r in rows for k in r["details"]}
    assert keys <= {"score", "threshold", "operating_point", "checks", "challenge", "mode", "n_clips", "n_new_clips", "matched", "candidates", "message"}, keys

    shown = runner.invoke(app, ["audit", "--store", db, "--user", "s2", "--event", "verify"])
    assert shown.exit_code == 0 and "accepted" in shown.output and "rejected" in shown.output and "nobody" not in shown.output
    # at 80 columns every time is whole (date and time of day on one line)
    narrow = runner.invoke(app, ["audit", "--store", db], env={"COLUMNS": "80"})
    import re

    assert narrow.exit_code == 0 and len(re.findall(r"│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │", narrow.output)) == len(rows), narrow.output
    assert max(len(line) for line in narrow.output.splitlines()) <= 80
    assert runner.invoke(app, ["audit", "--store", db, "--event", "login"]).exit_code == 2
    bad = runner.invoke(app, ["audit", "--store", db, "--since", "yesterday"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_the_service_audits_each_request_under_its_request_id(tmp_path, lip_model_file):
    from fastapi.testclient import TestClient

    from lipauth.api import load_model
    from lipauth.auth.verifier import Verifier
    from lipauth.service.app import create_app

    store = TemplateStore(tmp_path / "t.db", create=True)
    log = AuditLog(store)
    client = TestClient(create_app(Verifier(load_model(lip_model_file), store, operating_point=-1, audit=log), api_key="k", max_upload_bytes=3_000_000))
    videos = sorted(need("grid-s2/video").glob("*.mpg"))
    h = {"X-API-Key": "k"}
    files = lambda p, field: [(field, (p.name, p.read_bytes(), "video/mpeg"))]  # noqa: E731
    small = [p for p in videos if p.stat().st_size < 3_000_000] or pytest.skip("no grid-s2 clip under 3 MB")
    r = client.post("/v1/users/s2/enroll", files=files(small[0], "videos"), headers={**h, "X-Request-ID": "enrol-1"})
    assert r.status_code == 201 and r.headers["X-Request-ID"] == "enrol-1"
    r = client.post("/v1/users/s2/verify", files=files(small[0], "video"), headers=h)
    assert r.status_code == 200 and r.json()["accepted"] is True
    verify_id = r.headers["X-Request-ID"]
    assert client.post("/v1/users/s2/verify", files=[("video", ("big.mpg", b"\0" * 3_100_000, "video/mpeg"))], headers=h).status_code == 413
    assert client.post("/v1/users/ghost/verify", files=files(small[0], "video"), headers={**h, "X-Request-ID": "bad id with spaces"}).status_code == 404
    assert client.delete("/v1/users/s2", headers=h).status_code == 204
    rows = log.entries()
    assert [(r.event, r.user_id, r.outcome) for r in rows] == [
        ("delete", "s2", "deleted"),
        ("verify", "ghost", "unknown_user"),
        ("verify", "s2", "upload_too_large"),
        ("verify", "s2", "accepted"),
        ("enrol", "s2", "enrolled"),
    ]
    assert rows[3].request_id == verify_id and rows[4].request_id == "enrol-1"
    assert rows[1].request_id != "bad id with spaces" and len(rows[1].request_id) == 32
    assert {r.client for r in rows} == {"testclient"} and rows[3].model_id == load_model(lip_model_file).id
    assert rows[3].details["threshold"] == -1 and np.isfinite(rows[3].details["score"])

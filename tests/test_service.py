"""The real HTTP service: uvicorn on a loopback port, real multipart uploads of the shared
videos, concurrent requests, and every 4xx with its reason."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from lipauth.api import load_model
from lipauth.auth.store import TemplateStore
from lipauth.auth.verifier import Verifier
from lipauth.service.app import create_app
from lipauth.video.encode import write_video
from tests.conftest import need
from tests.support.server import serving

KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(lip_model_file, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("svc")
    verifier = Verifier(load_model(lip_model_file), TemplateStore(tmp / "t.db", create=True))
    # a line long enough for the 20 concurrent verifies below (the default is 8)
    with serving(create_app(verifier, api_key=KEY, max_upload_bytes=8 << 20, max_waiting=32)) as url:
        yield url, verifier, tmp


def _files(paths, field="videos"):
    return [(field, (p.name, p.read_bytes(), "video/mpeg")) for p in paths]


def test_health_and_openapi(server):
    url, verifier, _ = server
    r = httpx.get(f"{url}/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}  # nothing more without the key
    r = httpx.get(f"{url}/v1/health", headers={"X-API-Key": KEY})
    assert r.json()["model"] == verifier.model.id and r.json()["users"] == len(verifier.store.users())
    assert "/v1/users/{user_id}/verify" in httpx.get(f"{url}/openapi.json").json()["paths"]


def test_enrol_verify_identify_delete_over_http(server, tmp_path):
    url, verifier, _ = server
    videos = sorted(need("grid-s2/video").glob("*.mpg"))
    h = {"X-API-Key": KEY}
    r = httpx.post(f"{url}/v1/users/s2/enroll", files=_files(videos[:3]), headers=h, timeout=120)
    assert r.status_code == 201, r.text
    assert r.json() == {"user": "s2", "n_clips": 3, "mode": "new", "weak": None}
    r = httpx.post(f"{url}/v1/users/s2/verify", files=_files([videos[4]], "video"), headers=h, timeout=60)
    assert r.status_code == 200, r.text
    d = r.json()
    expected = verifier.verify("s2", videos[4])
    assert d["score"] == pytest.approx(expected.score, abs=1e-5) and d["accepted"] == expected.accepted
    assert d["threshold"] == pytest.approx(verifier.threshold_for(verifier.store.get("s2"))[0])
    assert d["checks"] == []
    assert d.keys() == expected.to_dict().keys()  # one Decision, the same field names in Python and over HTTP
    r = httpx.post(f"{url}/v1/users/s2/verify", files=_files([videos[4]], "video"), data={"liveness": "true"}, headers=h, timeout=60)
    assert r.status_code == 200, r.text
    live, expected = r.json(), verifier.verify("s2", videos[4], liveness=True)
    assert [c["name"] for c in live["checks"]] == ["av_sync", "face_liveness", "motion"]
    for got, want in zip(live["checks"], expected.checks):
        assert got["score"] == pytest.approx(want.score, abs=1e-4) and got["threshold"] == pytest.approx(want.threshold) and got["passed"] == want.passed
    # without an audio track: skipped by default, a failed check when audio is required
    from lipauth.video.decode import decode_video
    from lipauth.video.encode import write_video

    v = decode_video(videos[4])
    silent = write_video(tmp_path / "silent.mpg", v.frames, v.fps, None)
    r = httpx.post(f"{url}/v1/users/s2/verify", files=_files([silent], "video"), data={"liveness": "true", "require_audio": "true"}, headers=h, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] is False and r.json()["checks"][0]["name"] == "av_sync" and not r.json()["checks"][0]["passed"]
    r = httpx.post(f"{url}/v1/users/s2/verify", files=_files([silent], "video"), data={"require_audio": "true"}, headers=h, timeout=60)
    assert r.status_code == 422 and r.json()["error"] == "invalid_input" and "liveness" in r.json()["detail"], r.text
    r = httpx.post(f"{url}/v1/identify", files=_files([videos[5]], "video"), params={"k": 3}, headers=h, timeout=60)
    assert r.status_code == 200 and r.json()["candidates"][0]["user"] == "s2"
    # identify holds the user to the threshold verify applied to them (one policy)
    assert r.json()["candidates"][0]["threshold"] == pytest.approx(d["threshold"]) and r.json()["policy"]["operating_point"] == "eer"
    r = httpx.delete(f"{url}/v1/users/s2", headers=h)
    assert r.status_code == 204
    r = httpx.delete(f"{url}/v1/users/s2", headers=h)
    assert r.status_code == 404 and r.json()["error"] == "unknown_user"


def test_twenty_concurrent_verifies_are_all_answered_correctly(server):
    url, verifier, _ = server
    videos = sorted(need("grid-s2/video").glob("*.mpg"))
    h = {"X-API-Key": KEY}
    assert httpx.post(f"{url}/v1/users/conc/enroll", files=_files(videos[:3]), headers=h, timeout=120).status_code == 201
    probes = [videos[3 + i % 17] for i in range(20)]
    expected = {p.name: verifier.verify("conc", p).score for p in set(probes)}

    def one(p):
        r = httpx.post(f"{url}/v1/users/conc/verify", files=_files([p], "video"), headers=h, timeout=180)
        return p.name, r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, probes))
    assert [code for _, code, _ in results] == [200] * 20
    for name, _, body in results:
        assert body["score"] == pytest.approx(expected[name], abs=1e-5), name


def test_bad_requests_get_the_right_4xx_and_leave_the_store_alone(server, tmp_path):
    url, verifier, _ = server
    h = {"X-API-Key": KEY}
    before = verifier.store.users()
    good = need("grid-s2/video/bbaf2a.mpg")
    # wrong / missing API key
    r = httpx.post(f"{url}/v1/users/x/verify", files=_files([good], "video"), headers={"X-API-Key": "nope"})
    assert r.status_code == 401 and "API key" in r.json()["detail"]
    assert httpx.post(f"{url}/v1/users/x/verify", files=_files([good], "video")).status_code == 401
    # not a video
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    r = httpx.post(f"{url}/v1/users/bad/enroll", files=_files([junk]), headers=h)
    assert r.status_code == 422 and r.json()["error"] == "fte" and "junk.mp4: not a readable video" in r.json()["detail"]
    r = httpx.post(f"{url}/v1/users/bad/enroll", files=[("videos", ("../../etc/clip.mp4", b"junk", "video/mp4"))], headers=h)
    assert "clip.mp4: not a readable video" in r.json()["detail"] and "etc" not in r.json()["detail"]
    assert httpx.post(f"{url}/v1/users/s2x/enroll", files=_files([good]), headers=h, timeout=60).status_code == 201
    r = httpx.post(f"{url}/v1/users/s2x/verify", files=[("video", ("probe.mp4", b"junk", "video/mp4"))], headers=h)
    assert r.status_code == 422 and r.json()["detail"].startswith("probe.mp4: ")
    for body in (r.text, httpx.post(f"{url}/v1/identify", files=[("video", ("p.mp4", b"junk", "video/mp4"))], headers=h).text):
        assert "lipauth-upload" not in body and "/tmp" not in body  # no server paths
    httpx.delete(f"{url}/v1/users/s2x", headers=h)
    # no face
    noise = np.random.default_rng(0).integers(0, 255, (15, 96, 128, 3), dtype=np.uint8)
    r = httpx.post(f"{url}/v1/users/bad/enroll", files=_files([write_video(tmp_path / "noise.mp4", noise, 25.0)]), headers=h, timeout=60)
    assert r.status_code == 422 and "no face" in r.json()["detail"]
    # empty upload
    empty = tmp_path / "empty.mp4"
    empty.touch()
    r = httpx.post(f"{url}/v1/users/bad/enroll", files=_files([empty]), headers=h)
    assert r.status_code == 400 and r.json()["error"] == "empty_upload"
    # oversized upload (the server here takes 8 MiB)
    big = tmp_path / "my-secret-name.mp4"
    big.write_bytes(b"\0" * (9 << 20))
    r = httpx.post(f"{url}/v1/users/bad/enroll", files=_files([big]), headers=h)
    assert r.status_code == 413 and r.json()["error"] == "upload_too_large" and "secret" not in r.text
    # unknown user
    r = httpx.post(f"{url}/v1/users/nobody/verify", files=_files([good], "video"), headers=h)
    assert r.status_code == 404 and "nobody" in r.json()["detail"]
    # missing file field
    r = httpx.post(f"{url}/v1/users/bad/verify", headers=h)
    assert r.status_code == 400 and r.json()["error"] == "bad_request" and "video" in r.json()["detail"]
    assert verifier.store.users() == before


def test_serve_refuses_to_start_without_an_api_key(monkeypatch, lip_model_file, tmp_path):
    from typer.testing import CliRunner

    from lipauth.cli import app

    monkeypatch.delenv("LIPAUTH_API_KEY", raising=False)
    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)
    res = CliRunner().invoke(app, ["serve", "--model", str(lip_model_file), "--store", str(tmp_path / "t.db")])
    assert res.exit_code == 2 and "LIPAUTH_API_KEY" in res.output


def test_challenges_users_and_conflicts_over_http(server):
    url, verifier, _ = server
    from lipauth.pad import challenge_phrases as phrases

    videos = sorted(need("grid-s2/video").glob("*.mpg"))
    h = {"X-API-Key": KEY}
    assert httpx.post(f"{url}/v1/users/chal/enroll", files=_files(videos[:3]), headers=h, timeout=120).status_code == 201
    r = httpx.post(f"{url}/v1/users/chal/enroll", files=_files(videos[3:4]), headers=h, timeout=120)
    assert r.status_code == 409 and r.json()["error"] == "already_enrolled"
    r = httpx.post(f"{url}/v1/users/chal/enroll", files=_files(videos[3:4]), data={"mode": "add"}, headers=h, timeout=120)
    assert r.status_code == 201 and r.json()["n_clips"] == 4
    users = httpx.get(f"{url}/v1/users", headers=h).json()["users"]
    assert [u["n_clips"] for u in users if u["user_id"] == "chal"] == [4]
    assert httpx.get(f"{url}/v1/users").status_code == 401

    r = httpx.post(f"{url}/v1/challenges", data={"user": "nobody"}, headers=h)
    assert r.status_code == 404 and r.json()["error"] == "unknown_user"
    c = httpx.post(f"{url}/v1/challenges", data={"user": "chal"}, headers=h).json()
    assert phrases.normalise(c["phrase"]) == c["phrase"]
    r = httpx.post(f"{url}/v1/users/chal/verify", files=_files([videos[6]], "video"), data={"challenge": c["challenge_id"]}, headers=h, timeout=60)
    d = r.json()
    assert r.status_code == 200 and d["accepted"] is False  # a recording made before the phrase was drawn
    assert {x["name"]: x for x in d["checks"]}["spoken_phrase"]["passed"] is False and "av_sync" in {x["name"] for x in d["checks"]}
    r = httpx.post(f"{url}/v1/users/chal/verify", files=_files([videos[6]], "video"), data={"challenge": c["challenge_id"]}, headers=h, timeout=60)
    assert r.status_code == 403 and r.json()["error"] == "challenge_refused" and "already used" in r.json()["detail"]


def test_compare_embed_unlock_and_audit_over_http_match_the_cli(server, tmp_path):
    """REST parity with the CLI, under the API key: compare, embed, users unlock, audit; the
    same decision has the same field names from the CLI's JSON and from HTTP."""
    import json

    from typer.testing import CliRunner

    from lipauth.auth.compare import compare
    from lipauth.cli import app

    url, verifier, _ = server
    h = {"X-API-Key": KEY}
    s2 = sorted(need("grid-s2/video").glob("*.mpg"))
    s1 = sorted(need("grid-s1/video").glob("*.mpg"))
    r = httpx.post(f"{url}/v1/compare", files=[_files([s2[0]], "a")[0], _files([s2[1]], "b")[0]], headers=h, timeout=120)
    assert r.status_code == 200, r.text
    want = compare(verifier.model, s2[0], s2[1], modalities=verifier.modal.modalities)
    got = r.json()
    assert got["accepted"] is want.accepted is True and got["llr"] == pytest.approx(want.llr, abs=1e-3)
    assert (got["user"], got["probe"]) == (s2[0].name, s2[1].name)
    cli = CliRunner().invoke(app, ["compare", str(s2[0]), str(s1[0]), "--json"])
    assert cli.exit_code == 1, cli.output  # different people
    assert json.loads(cli.output).keys() == got.keys()
    r = httpx.post(f"{url}/v1/compare", files=[_files([s2[0]], "a")[0], _files([s1[0]], "b")[0]], headers=h, timeout=120)
    assert r.json()["accepted"] is False
    assert httpx.post(f"{url}/v1/compare", files=_files([s2[0]], "a"), headers=h).status_code == 400  # b missing

    r = httpx.post(f"{url}/v1/embed", files=_files([s2[2]], "video"), headers=h, timeout=60)
    assert r.status_code == 200, r.text
    e = r.json()
    lips = verifier.model.embed(s2[2])
    assert np.allclose(e["lips"], lips, atol=1e-4) and e["model_id"] == verifier.model.id
    assert len(e["voice"]) == 256 and len(e["face"]) == 128 and e["left_out"] == {}

    r = httpx.post(f"{url}/v1/users/nobody/unlock", headers=h)
    assert r.status_code == 404
    assert httpx.post(f"{url}/v1/users/s2/unlock").status_code == 401
    verifier.enroll("locked", s2[:2], mode="replace")
    for _ in range(verifier.attempts.policy.max_failures):
        verifier.attempts.record("locked", False)
    assert httpx.post(f"{url}/v1/users/locked/verify", files=_files([s2[4]], "video"), headers=h, timeout=60).status_code == 429
    r = httpx.post(f"{url}/v1/users/locked/unlock", headers=h)
    assert r.status_code == 200 and r.json() == {"user": "locked", "cleared": True}
    assert httpx.post(f"{url}/v1/users/locked/verify", files=_files([s2[4]], "video"), headers=h, timeout=60).status_code == 200

    r = httpx.get(f"{url}/v1/audit", params={"user": "locked", "limit": 10}, headers=h)
    assert r.status_code == 200
    rows = r.json()["entries"]
    assert [x["event"] for x in rows[:2]] == ["verify", "unlock"] and rows[1]["outcome"] == "unlocked"
    assert rows[2]["outcome"] == "too_many_attempts"
    assert httpx.get(f"{url}/v1/audit", params={"event": "bogus"}, headers=h).status_code == 422
    assert httpx.get(f"{url}/v1/audit", params={"event": "enroll", "limit": 1}, headers=h).json()["entries"][0]["event"] == "enrol"


def test_one_error_shape_in_the_service_and_the_cli(server, tmp_path):
    """Every error, FastAPI's own included, is {"error", "detail"} over HTTP, as in the CLI's JSON."""
    import json

    from typer.testing import CliRunner

    from lipauth.cli import app

    url, _, _ = server
    h = {"X-API-Key": KEY}
    r = httpx.get(f"{url}/v1/no-such-thing", headers=h)
    assert r.status_code == 404 and r.json() == {"error": "not_found", "detail": "no such endpoint (see /docs)"}
    r = httpx.get(f"{url}/v1/users/s2/verify", headers=h)
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    video = sorted(need("grid-s2/video").glob("*.mpg"))[0]
    r = httpx.post(f"{url}/v1/users/nobody/verify", files=_files([video], "video"), headers=h)
    db = tmp_path / "t.db"
    from lipauth.auth.store import TemplateStore

    TemplateStore(db, create=True)
    cli = CliRunner().invoke(app, ["verify", "nobody", str(video), "--store", str(db), "--json"])
    assert cli.exit_code == 2
    from_cli = json.loads(cli.output)
    assert r.json().keys() <= from_cli.keys() and from_cli["error"] == r.json()["error"] == "unknown_user"


def test_a_service_that_requires_challenges_refuses_plain_verifies(server):
    from fastapi.testclient import TestClient

    _, verifier, _ = server
    client = TestClient(create_app(verifier, api_key=KEY, require_challenge=True))
    videos = sorted(need("grid-s2/video").glob("*.mpg"))
    h = {"X-API-Key": KEY}
    client.post("/v1/users/req/enroll", files=_files(videos[:2]), headers=h)
    r = client.post("/v1/users/req/verify", files=_files([videos[4]], "video"), headers=h)
    assert r.status_code == 400 and r.json()["error"] == "challenge_required"


def test_a_server_side_failure_says_so_without_its_cause(server, monkeypatch):
    from fastapi.testclient import TestClient

    from lipauth.errors import StoreError

    _, verifier, _ = server
    client = TestClient(create_app(verifier, api_key=KEY))

    def broken():
        raise StoreError("cannot open template store '/srv/secret/templates.db': disk I/O error")

    monkeypatch.setattr(verifier.store, "users", broken)
    r = client.get("/v1/users", headers={"X-API-Key": KEY})
    assert r.status_code == 500 and r.json()["error"] == "store_error" and "secret" not in r.text and "log" in r.json()["detail"]


def _held_verify(verifier, monkeypatch, user: str):
    """`user` enrolled, and verify made to wait at work until `release` is set (`started`
    says it began); returns (grid-s2 videos, started, release, the real verify)."""
    import threading

    videos = sorted(need("grid-s2/video").glob("*.mpg"))
    if user not in verifier.store:
        verifier.enroll(user, videos[:2])
    release, started = threading.Event(), threading.Event()
    real_verify = verifier.verify

    def held(*a, **k):
        started.set()
        release.wait(60)
        return real_verify(*a, **k)

    monkeypatch.setattr(verifier, "verify", held)
    return videos, started, release, real_verify


def test_a_full_line_is_turned_away_with_503_and_retry_after(server, monkeypatch):
    """One request works, one waits (max_waiting=1), the third is refused at once; then the
    two that were let in are answered."""
    _, verifier, _ = server
    h = {"X-API-Key": KEY}
    videos, started, release, _ = _held_verify(verifier, monkeypatch, "line")
    app = create_app(verifier, api_key=KEY, max_waiting=1, wait_s=60)
    with serving(app) as url:
        post = lambda: httpx.post(f"{url}/v1/users/line/verify", files=_files([videos[4]], "video"), headers=h, timeout=120)  # noqa: E731
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(post)
            assert started.wait(30)
            second = pool.submit(post)
            deadline = time.time() + 30
            while app.state.gate.waiting < 1 and time.time() < deadline:  # the second is in line
                time.sleep(0.05)
            r = post()
            assert r.status_code == 503 and r.json()["error"] == "busy" and int(r.headers["Retry-After"]) >= 1
            release.set()
            assert first.result().status_code == 200 and second.result().status_code == 200


@pytest.mark.slow  # it waits out a 5 s deadline of the wall clock
def test_a_request_past_its_deadline_is_answered_503_and_its_work_holds_the_turn(server, monkeypatch):
    """timeout_s=5: a verify stuck at work is answered 503 timed_out after 5 s,
    with Retry-After and an audit row; one that arrives meanwhile and would wait past its
    own deadline is answered the same; once the stuck work ends, verification works again."""
    from lipauth.auth.audit import AuditLog

    _, verifier, _ = server
    h = {"X-API-Key": KEY}
    videos, started, release, real_verify = _held_verify(verifier, monkeypatch, "late")
    monkeypatch.setattr(verifier, "audit", AuditLog(verifier.store))
    app = create_app(verifier, api_key=KEY, max_waiting=4, wait_s=60, timeout_s=5.0)
    with serving(app) as url:
        post = lambda: httpx.post(f"{url}/v1/users/late/verify", files=_files([videos[4]], "video"), headers=h, timeout=120)  # noqa: E731
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(post)
            assert started.wait(30)
            second = pool.submit(post)
            r1, r2 = first.result(), second.result()
        for r in (r1, r2):
            assert r.status_code == 503 and r.json()["error"] == "timed_out" and int(r.headers["Retry-After"]) >= 1, r.text
        assert app.state.gate.waiting == 0  # the second gave up its place in line at its deadline
        release.set()
        monkeypatch.setattr(verifier, "verify", real_verify)
        deadline = time.time() + 60
        while app.state.gate._work.locked() and time.time() < deadline:  # the stuck work finishes in the background
            time.sleep(0.05)
        r = httpx.post(f"{url}/v1/users/late/verify", files=_files([videos[4]], "video"), headers=h, timeout=120)
        assert r.status_code == 200 and r.json()["user"] == "late"
    rows = verifier.audit.entries(user_id="late", event="verify")
    assert [row.outcome for row in rows].count("timed_out") == 2

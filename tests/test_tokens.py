"""The login page's trust model: one-time, expiring, user-bound tokens (lipauth.auth.tokens),
and the service's public endpoints that take them instead of the API key: a login token
cannot enrol, delete or read anything; used and expired tokens are refused; other sites'
pages are refused; the public endpoint is rate-limited and audited."""

import sqlalchemy as sa
import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from lipauth.auth.store import TemplateStore
from lipauth.auth.templates import Template
from lipauth.auth.tokens import TokenBook, tokens_table
from lipauth.errors import InvalidInputError, TokenError, UnknownUserError
from tests.conftest import need
from tests.support.server import serving

KEY = "admin-key-for-tokens"


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch):
    monkeypatch.delenv("LIPAUTH_STORE_KEY", raising=False)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def book(tmp_path):
    store = TemplateStore(tmp_path / "t.db", create=True)
    store.put(Template.from_embeddings("alice", np.ones((1, 4)), "m"))
    clock = Clock()
    return TokenBook(store, clock=clock), clock


def test_a_token_is_one_time_scoped_and_expires(book):
    tokens, clock = book
    login = tokens.issue("login", "alice", challenge_id="c1")
    grant = tokens.redeem(login.token, "login")
    assert (grant.scope, grant.user_id, grant.challenge_id) == ("login", "alice", "c1")
    with pytest.raises(TokenError, match="already used"):
        tokens.redeem(login.token, "login")
    # a login token tried on enrolment is refused, and used up by the try
    other = tokens.issue("login", "alice")
    with pytest.raises(TokenError, match="login token cannot be used to enrol"):
        tokens.redeem(other.token, "enrol")
    with pytest.raises(TokenError, match="already used"):
        tokens.redeem(other.token, "login")
    late = tokens.issue("enrol", "bob", mode="new", ttl_s=60)
    clock.t += 61
    with pytest.raises(TokenError, match="expired 1 s ago"):
        tokens.redeem(late.token, "enrol")
    for bad in (None, "", "not-a-token"):
        with pytest.raises(TokenError):
            tokens.redeem(bad, "login")


def test_tokens_are_stored_hashed_and_bound_to_enrolled_users(book):
    tokens, _ = book
    issued = tokens.issue("enrol", "bob", mode="replace")
    with tokens.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(sa.select(tokens_table))]
    assert stored and not any(issued.token in str(v) for row in stored for v in row)  # only its SHA-256
    with pytest.raises(UnknownUserError):
        tokens.issue("login", "bob")  # nobody to log in as
    with pytest.raises(InvalidInputError):
        tokens.issue("enrol", "bob", mode="everything")
    with pytest.raises(InvalidInputError):
        tokens.issue("admin", "alice")
    with pytest.raises(InvalidInputError):
        tokens.issue("login", "alice", ttl_s=10 * 24 * 3600)


def test_a_given_back_token_works_once_more(book):
    tokens, _ = book
    issued = tokens.issue("enrol", "bob", mode="new")
    tokens.redeem(issued.token, "enrol")
    tokens.give_back(issued.token)
    assert tokens.redeem(issued.token, "enrol").user_id == "bob"


# -- over HTTP ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(lip_model_file, tmp_path_factory):
    from lipauth.api import load_model
    from lipauth.auth.verifier import Verifier
    from lipauth.service.app import create_app

    tmp = tmp_path_factory.mktemp("tokens")
    verifier = Verifier(load_model(lip_model_file), TemplateStore(tmp / "t.db", create=True))
    app = create_app(verifier, api_key=KEY, login_rate="4/minute", allowed_origins=("https://login.example.com",))
    with serving(app) as url:
        yield url, verifier


def _videos(paths, field="videos"):
    return [(field, (p.name, p.read_bytes(), "video/mpeg")) for p in paths]


def test_the_page_enrols_with_an_admin_token_and_logs_in_with_a_login_token(server):
    url, verifier = server
    videos = sorted(need("grid-s2/video").glob("*.mpg"))
    admin = {"X-API-Key": KEY}
    # without the key nobody gets an enrolment token
    assert httpx.post(f"{url}/v1/users/carol/enrol-token").status_code == 401
    r = httpx.post(f"{url}/v1/users/carol/enrol-token", data={"mode": "new", "ttl_s": "600"}, headers=admin)
    assert r.status_code == 201, r.text
    enrol = r.json()["token"]
    assert r.json()["scope"] == "enrol" and r.json()["user"] == "carol"

    # a clip without a face is refused, and the token survives it (nothing was stored)
    bad = [("videos", ("noise.mpg", b"\x00" * 5000, "video/mpeg"))]
    r = httpx.post(f"{url}/v1/enroll", files=bad, headers={"Authorization": f"Bearer {enrol}"}, timeout=120)
    assert r.status_code == 422 and "carol" not in verifier.store, r.text
    r = httpx.post(f"{url}/v1/enroll", files=_videos(videos[:2]), headers={"Authorization": f"Bearer {enrol}"}, timeout=120)
    assert r.status_code == 201 and r.json()["user"] == "carol" and r.json()["n_clips"] == 2, r.text
    # used: a second enrolment with it is refused, and changes nothing
    r = httpx.post(f"{url}/v1/enroll", files=_videos(videos[2:3]), headers={"Authorization": f"Bearer {enrol}"}, timeout=120)
    assert r.status_code == 401 and r.json()["error"] == "token_refused"
    assert verifier.store.get("carol").embeddings.shape[0] == 2

    # the public login step: a challenge and a login token, no key
    r = httpx.post(f"{url}/v1/login", data={"user": "carol"})
    assert r.status_code == 201, r.text
    login = r.json()
    assert {"token", "challenge_id", "phrase", "expires_at"} <= login.keys() and login["user"] == "carol"
    bearer = {"Authorization": f"Bearer {login['token']}"}
    # a login token is not an API key: it cannot enrol, delete, list or read the audit trail
    assert httpx.delete(f"{url}/v1/users/carol", headers=bearer).status_code == 401
    assert httpx.get(f"{url}/v1/users", headers=bearer).status_code == 401
    assert httpx.get(f"{url}/v1/audit", headers=bearer).status_code == 401
    assert httpx.post(f"{url}/v1/users/carol/enroll", files=_videos(videos[:1]), headers=bearer).status_code == 401
    assert "carol" in verifier.store
    # on the page's enrolment it is refused as the wrong scope, and used up by that try
    r = httpx.post(f"{url}/v1/enroll", files=_videos(videos[:1]), headers=bearer, timeout=60)
    assert r.status_code == 401 and "cannot be used to enrol" in r.json()["detail"]
    r = httpx.post(f"{url}/v1/login/verify", files=_videos(videos[5:6], "video"), headers=bearer, timeout=60)
    assert r.status_code == 401 and "already used" in r.json()["detail"]

    # a fresh login: the video answers (or fails) the token's challenge, for the token's user
    login = httpx.post(f"{url}/v1/login", data={"user": "carol"}).json()
    bearer = {"Authorization": f"Bearer {login['token']}"}
    r = httpx.post(f"{url}/v1/login/verify", files=_videos(videos[5:6], "video"), headers=bearer, timeout=60)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["user"] == "carol" and "spoken_phrase" in [c["name"] for c in d["checks"]]
    assert d["accepted"] is False  # the GRID clip does not say the drawn phrase
    r = httpx.post(f"{url}/v1/login/verify", files=_videos(videos[5:6], "video"), headers=bearer, timeout=60)
    assert r.status_code == 401  # reused
    assert httpx.post(f"{url}/v1/login", data={"user": "nobody"}).status_code == 404

    rows = verifier.audit.entries(limit=50)
    assert {"challenge", "token"} <= {e.event for e in rows}
    assert any(e.event == "verify" and e.outcome == "token_refused" for e in rows)
    assert any(e.event == "challenge" and e.outcome == "unknown_user" and e.user_id == "nobody" for e in rows)


def test_the_public_login_is_rate_limited_per_client(server):
    from lipauth.service.app import create_app

    _, verifier = server
    verifier.store.put(Template.from_embeddings("dave", np.ones((1, 4)), verifier.model.id), replace=True)
    with serving(create_app(verifier, api_key=KEY, login_rate="3/minute")) as url:  # a limiter of its own
        answers = [httpx.post(f"{url}/v1/login", data={"user": "dave"}) for _ in range(5)]
    codes = [a.status_code for a in answers]
    assert codes == [201, 201, 201, 429, 429], codes
    refused = answers[codes.index(429)]
    assert refused.json()["error"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    assert any(e.outcome == "rate_limited" for e in verifier.audit.entries(event="challenge"))


def test_other_sites_pages_are_refused_unless_allowed(server):
    url, _ = server
    r = httpx.get(f"{url}/v1/health", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"] == "cross_origin"
    assert httpx.post(f"{url}/v1/login", data={"user": "x"}, headers={"Origin": "https://evil.example"}).status_code == 403
    r = httpx.get(f"{url}/v1/health", headers={"Origin": "https://login.example.com"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://login.example.com"
    assert httpx.get(f"{url}/v1/health", headers={"Origin": url}).status_code == 200  # the page itself


def test_the_page_never_holds_the_api_key(server):
    url, _ = server
    page = httpx.get(f"{url}/").text + httpx.get(f"{url}/static/page.js").text
    assert "X-API-Key" not in page and "api-key" not in page.lower() and KEY not in page
    assert "v1/login" in page and "Bearer" in page


def test_cli_issues_an_enrol_token(tmp_path):
    from lipauth.cli import app

    store = tmp_path / "t.db"
    TemplateStore(store, create=True)
    r = CliRunner().invoke(app, ["enrol-token", "erin", "--store", str(store), "--json"])
    assert r.exit_code == 0, r.output
    import json

    token = json.loads(r.output)["token"]
    assert TokenBook(TemplateStore(store)).redeem(token, "enrol").mode == "new"
    r = CliRunner().invoke(app, ["enrol-token", "erin", "--store", str(store), "--mode", "all"])
    assert r.exit_code != 0 and "mode" in r.output

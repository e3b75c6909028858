"""The REST service (FastAPI). OpenAPI docs at /docs and /redoc, served from the
`fastapi_offline` package (no CDN); a login page at /.

    POST   /v1/challenges                form: user?, ttl_s?  -> a one-time phrase to say
    POST   /v1/users/{user_id}/enroll   multipart: videos (one or more files), passphrase?, mode=new|replace|add
    POST   /v1/users/{user_id}/verify   multipart: video [, challenge, passphrase, liveness=true, require_audio=true]
    POST   /v1/users/{user_id}/enrol-token  form: mode?, ttl_s?  -> a one-time token to enrol that user from the page
    POST   /v1/users/{user_id}/unlock   end a user's cool-down after failed attempts
    POST   /v1/identify?k=5             multipart: video
    POST   /v1/compare                  multipart: a, b [, liveness=true] -> one decision, no store
    POST   /v1/embed                    multipart: video -> the lips' vector and each other modality's
    GET    /v1/audit?user=&event=&outcome=&limit=
    GET    /v1/users
    DELETE /v1/users/{user_id}
    GET    /v1/health

  The login page's endpoints (no API key; lipauth.auth.tokens):
    POST   /v1/login                    form: user -> a challenge and a one-time login token (rate-limited per client)
    POST   /v1/login/verify             Authorization: Bearer <login token>; multipart: video
    POST   /v1/enroll                   Authorization: Bearer <enrol token>; multipart: videos

Every other request but /v1/health (and the page) needs the API key in `X-API-Key`; the page
never holds it. Requests from another origin (a browser's Origin header naming another site)
are refused unless `allowed_origins` names it. Every answer
carries `X-Request-ID` (the client's, if it sent a plain one, else a new one): the audit
trail (lipauth.auth.audit) files each enrol, verify, identify and delete under it. Uploads are streamed to a
temporary file and refused past `max_upload_bytes` (413); videos longer than the model's
pipeline allows are refused (422). Every 4xx carries {"error": code, "detail": reason}.
"""

from __future__ import annotations

import hmac
import logging
import os
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from fastapi import Depends, FastAPI, File, Form, Query, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from limits import parse as parse_rate
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from lipauth import __version__
from lipauth.auth.audit import Origin, audited
from lipauth.auth.challenges import ChallengeBook, issue_challenge
from lipauth.auth.tokens import TokenBook, issue_enrol_token
from lipauth.auth.verifier import Verifier
from lipauth.errors import (
    ChallengeError,
    FailureToAcquire,
    FailureToEnrol,
    InvalidInputError,
    LipauthError,
    RateLimitedError,
    RetryLaterError,
    StoreError,
    StoreExistsError,
    TokenError,
    UnknownUserError,
    VideoDecodeError,
)
from lipauth.service.gate import Busy, WorkGate
from lipauth.service.schemas import AuditOut, ChallengeOut, DecisionOut, EmbeddingOut, EnrolOut, HealthOut, IdentifyOut, LoginOut, TokenOut, UnlockOut, UsersOut, errors

STATIC = Path(__file__).with_name("static")

CHUNK = 1 << 20
log = logging.getLogger("lipauth.service")


def client_name(filename: str | None) -> str:
    """An upload's name as the client sent it, reduced to a printable base name."""
    base = Path((filename or "upload").replace("\\", "/")).name
    return "".join(c for c in base if c.isprintable())[:100] or "upload"


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status, self.code, self.detail = status, code, detail


def login_rate_limit(rate: str):
    """The `limits` rate item of e.g. "10/minute"; InvalidInputError for anything else."""
    try:
        return parse_rate(rate)
    except ValueError:
        raise InvalidInputError(f"login rate must read like 10/minute or 100/hour, got {rate!r}") from None


def _status(exc: LipauthError) -> int:
    if isinstance(exc, UnknownUserError):
        return 404
    if isinstance(exc, StoreExistsError):
        return 409
    if isinstance(exc, TokenError):
        return 401
    if isinstance(exc, ChallengeError):
        return 403
    if isinstance(exc, RetryLaterError):
        return 429
    if isinstance(exc, (VideoDecodeError, FailureToAcquire, FailureToEnrol, InvalidInputError)):
        return 422
    if isinstance(exc, StoreError):
        return 500
    return 400


def create_app(
    verifier: Verifier,
    *,
    api_key: str,
    max_upload_bytes: int = 20 << 20,
    max_enrol_files: int = 10,
    require_challenge: bool = False,
    max_waiting: int = 8,
    wait_s: float = 60.0,
    timeout_s: float | None = 120.0,
    allowed_origins: tuple[str, ...] = (),
    login_rate: str = "10/minute",
) -> FastAPI:
    """require_challenge: every verify must answer a challenge from POST /v1/challenges (a
    recording made earlier cannot answer a phrase drawn now).

    max_waiting, wait_s: heavy requests (enrol, verify, identify) run one at a time; at most
    `max_waiting` wait, each at most `wait_s` seconds, and the others get 503 + Retry-After.
    timeout_s: a heavy request not answered this long after it arrived gets 503 (timed_out)
    then (None: no deadline; lipauth.service.gate says what happens to its work).

    allowed_origins: other sites (e.g. "https://login.example.com") whose pages may call this
    service from a browser; requests from any other origin are refused (403 cross_origin).
    login_rate: how many logins one client address may start (POST /v1/login), in the
    `limits` package's notation ("10/minute")."""
    if not api_key:
        raise InvalidInputError("the service needs an API key (set LIPAUTH_API_KEY)")
    app = FastAPIOffline(title="lipauth", version=__version__, description="Lip-based biometric verification. Send the API key in the X-API-Key header.")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Video decoding, landmarks and the network run one request at a time: the landmark
    # backends keep per-clip state, and two CPU-bound requests at once only slow each other.
    gate = app.state.gate = WorkGate(max_waiting=max_waiting, wait_s=wait_s, timeout_s=timeout_s)
    challenges = ChallengeBook(verifier.store)
    tokens = TokenBook(verifier.store)
    limiter, login_limit = MovingWindowRateLimiter(MemoryStorage()), login_rate_limit(login_rate)
    if allowed_origins:  # their pages may read the answers (preflight included)
        app.add_middleware(CORSMiddleware, allow_origins=list(allowed_origins), allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "X-API-Key", "X-Request-ID"])
    verifier.prepare_for_serving()  # the index, frozen networks, warm encoders, the decoding child: not in the first request
    audit, model_id = verifier.audit, verifier.model.id

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        given = request.headers.get("X-Request-ID", "")
        request.state.request_id = given if 0 < len(given) <= 64 and all(c.isalnum() or c in "-_." for c in given) else uuid.uuid4().hex
        sender = request.headers.get("origin")
        if sender is not None and sender not in allowed_origins and sender != f"{request.url.scheme}://{request.headers.get('host', '')}":
            # another site's page (browsers name it in Origin): refused before any work, so
            # that a page elsewhere cannot use a visitor's browser against this service
            response = JSONResponse({"error": "cross_origin", "detail": f"requests from {sender[:100]} are not allowed (the service's allowed_origins)"}, status_code=403)
        else:
            response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    def origin(request: Request) -> Origin:
        return Origin(client=request.client.host if request.client else "unknown", request_id=request.state.request_id)

    def key_ok(given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), api_key.encode())

    def require_key(x_api_key: str | None = Security(APIKeyHeader(name="X-API-Key", auto_error=False))) -> None:
        if not key_ok(x_api_key):
            raise ApiError(401, "unauthorized", "missing or wrong API key (header X-API-Key)")

    def bearer(credentials: HTTPAuthorizationCredentials | None = Security(HTTPBearer(auto_error=False))) -> str | None:
        return credentials.credentials if credentials is not None else None

    @contextmanager
    def saved(upload: UploadFile) -> Iterator[Path]:
        """The upload in a temporary file. Errors about it name the file as the client sent
        it, never the server's temporary path."""
        name = client_name(upload.filename)
        suffix = Path(name).suffix[:10] or ".bin"
        fd, tmp = tempfile.mkstemp(prefix="lipauth-upload-", suffix=suffix)
        try:
            size = 0
            with os.fdopen(fd, "wb") as fh:
                while chunk := upload.file.read(CHUNK):
                    size += len(chunk)
                    if size > max_upload_bytes:
                        raise ApiError(413, "upload_too_large", f"an upload is larger than {max_upload_bytes} bytes, the most this service takes")
                    fh.write(chunk)
            if size == 0:
                raise ApiError(400, "empty_upload", f"{name}: the file is empty")
            try:
                yield Path(tmp)
            except LipauthError as exc:
                renamed = type(exc)(str(exc).replace(tmp, name))
                renamed.audited = getattr(exc, "audited", False)  # the verifier wrote its row already
                raise renamed from None
        finally:
            Path(tmp).unlink(missing_ok=True)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(Busy)
    async def _busy(_: Request, exc: Busy) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(LipauthError)
    async def _lipauth_error(_: Request, exc: LipauthError) -> JSONResponse:
        status = _status(exc)
        if status >= 500:  # the cause (paths, database URLs) goes to the log, not to the client
            log.error("request failed: %s", exc)
            return JSONResponse({"error": exc.code, "detail": "the service could not complete the request; its log says why"}, status_code=status)
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))} if isinstance(exc, RetryLaterError) else None
        return JSONResponse({"error": exc.code, "detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own answers (no such route, a method the route does not take) in the
        # service's one error shape
        codes = {404: "not_found", 405: "method_not_allowed"}
        detail = {404: "no such endpoint (see /docs)", 405: "this endpoint does not take that method (see /docs)"}.get(exc.status_code, str(exc.detail))
        return JSONResponse({"error": codes.get(exc.status_code, "http_error"), "detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", []))
        return JSONResponse({"error": "bad_request", "detail": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=400)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/v1/health", response_model=HealthOut, response_model_exclude_none=True)
    def health(x_api_key: str | None = Security(APIKeyHeader(name="X-API-Key", auto_error=False))) -> dict:
        """Without the API key: only that the service is up. With it: version, model, users."""
        if not key_ok(x_api_key):
            return {"status": "ok"}
        return {"status": "ok", "version": __version__, "model": verifier.model.id, "users": len(verifier.store.users())}

    @app.post("/v1/users/{user_id}/enroll", status_code=201, dependencies=[Depends(require_key)], response_model=EnrolOut, responses=errors(400, 401, 404, 409, 413, 422, 503))
    def enroll(request: Request, user_id: str, videos: list[UploadFile] = File(...), passphrase: str | None = Form(default=None), mode: str = Form(default="new")) -> dict:
        """mode: new (409 if the user is enrolled), replace, or add (clips to the template)."""
        who = origin(request)
        with audited(audit, "enrol", user_id, who, model_id):  # refusals before the verifier's own record
            if len(videos) > max_enrol_files:
                raise ApiError(413, "too_many_files", f"at most {max_enrol_files} enrolment clips per request")
            if mode == "new":
                verifier.store.refuse_enrolled(user_id)  # 409 before reading the uploads

            def work():
                with _all_saved(videos, saved) as paths, gate.turn():
                    return verifier.enroll(user_id, paths, passphrase=passphrase, mode=mode, origin=who)

            template = gate.run(work)
        return {"user": user_id, "n_clips": len(template.embeddings), "mode": mode, "weak": template.weak}

    @app.post("/v1/challenges", status_code=201, dependencies=[Depends(require_key)], response_model=ChallengeOut, responses=errors(400, 401, 404, 422))
    def challenge(request: Request, user: str | None = Form(default=None), ttl_s: float = Form(default=120.0)) -> dict:
        """A one-time phrase to say on camera; verify with its challenge_id before it expires."""
        return issue_challenge(challenges, user, ttl_s=ttl_s, audit=audit, origin=origin(request), model_id=model_id).to_dict()

    @app.post("/v1/users/{user_id}/enrol-token", status_code=201, dependencies=[Depends(require_key)], response_model=TokenOut, responses=errors(400, 401, 409, 422))
    def enrol_token(request: Request, user_id: str, mode: str = Form(default="new"), ttl_s: float | None = Form(default=None)) -> dict:
        """A one-time token that lets the login page enrol this user (in `mode`) once, within
        `ttl_s` (default 15 min). Give it to the person; it is shown only here."""
        return issue_enrol_token(tokens, user_id, mode=mode, ttl_s=ttl_s, audit=audit, origin=origin(request), model_id=model_id).to_dict()

    @app.post("/v1/login", status_code=201, response_model=LoginOut, responses=errors(400, 404, 422, 429))
    def login(request: Request, user: str = Form(...)) -> dict:
        """Public (the page's first step): a challenge for `user` and a one-time login token
        that answers it, within 3 minutes. Rate-limited per client address."""
        who = origin(request)
        with audited(audit, "challenge", user, who, model_id) as rec:
            if not limiter.hit(login_limit, "login", who.client):
                reset = limiter.get_window_stats(login_limit, "login", who.client).reset_time
                raise RateLimitedError(f"too many logins started from this address; try again in {max(1, round(reset - time.time()))} s", retry_after_s=max(1.0, reset - time.time()))
            verifier.admit(user)  # an unknown or locked user gets no challenge (404, 429)
            issued = challenges.issue(user, ttl_s=180.0)
            token = tokens.issue("login", user, ttl_s=180.0, challenge_id=issued.challenge_id)
            rec.done("issued", challenge_id=issued.challenge_id, scope="login")
        return {**issued.to_dict(), "token": token.token}

    @app.post("/v1/login/verify", response_model=DecisionOut, responses=errors(400, 401, 403, 413, 422, 429, 503))
    def login_verify(request: Request, video: UploadFile = File(...), token: str | None = Depends(bearer)) -> dict:
        """The page's second step: the video answering the login token's challenge, for the
        token's user. The token is used up either way."""
        who = origin(request)
        with audited(audit, "verify", None, who, model_id):
            grant = tokens.redeem(token, "login")

        def work():
            with saved(video) as path, gate.turn():
                return verifier.verify(grant.user_id, path, challenge=grant.challenge_id, origin=who)

        with audited(audit, "verify", grant.user_id, who, model_id):
            decision = gate.run(work)
        return decision.to_dict()

    @app.post("/v1/enroll", status_code=201, response_model=EnrolOut, responses=errors(400, 401, 409, 413, 422, 503))
    def enroll_with_token(request: Request, videos: list[UploadFile] = File(...), token: str | None = Depends(bearer)) -> dict:
        """The page's enrolment: the clips of the user an operator issued the enrol token
        for, in the mode it names. A refused enrolment (a clip without a face, clips of
        different people) gives the token back, since nothing was stored."""
        who = origin(request)
        with audited(audit, "enrol", None, who, model_id):
            grant = tokens.redeem(token, "enrol")
        with audited(audit, "enrol", grant.user_id, who, model_id):
            try:
                if len(videos) > max_enrol_files:
                    raise ApiError(413, "too_many_files", f"at most {max_enrol_files} enrolment clips per request")

                def work():
                    with _all_saved(videos, saved) as paths, gate.turn():
                        return verifier.enroll(grant.user_id, paths, mode=grant.mode, origin=who)

                template = gate.run(work)
            except (ApiError, FailureToAcquire, FailureToEnrol, VideoDecodeError, InvalidInputError):
                tokens.give_back(token)
                raise
        return {"user": grant.user_id, "n_clips": len(template.embeddings), "mode": grant.mode, "weak": template.weak}

    @app.get("/v1/users", dependencies=[Depends(require_key)], response_model=UsersOut, responses=errors(401))
    def users() -> dict:
        return {"users": verifier.store.users()}

    @app.post("/v1/users/{user_id}/verify", dependencies=[Depends(require_key)], response_model=DecisionOut, responses=errors(400, 401, 403, 404, 413, 422, 429, 503))
    def verify(
        request: Request,
        user_id: str,
        video: UploadFile = File(...),
        challenge: str | None = Form(default=None),
        passphrase: str | None = Form(default=None),
        liveness: bool = Form(default=False),
        require_audio: bool = Form(default=False),
    ) -> dict:
        """With a challenge id, the video must say its phrase (recognised speech, AV synchrony
        and the identity check, each in `checks`); the challenge is used up either way."""
        who = origin(request)
        with audited(audit, "verify", user_id, who, model_id):  # refusals before the verifier's own record
            if challenge is None and require_challenge:
                raise ApiError(400, "challenge_required", "this service verifies only answers to a challenge: POST /v1/challenges first")
            verifier.admit(user_id, passphrase)  # 404, 400 or 429 before the upload is read or the gate waited for

            def work():  # verify repeats admit, redeems the challenge, then reads the video
                with saved(video) as path, gate.turn():
                    return verifier.verify(user_id, path, passphrase=passphrase, liveness=liveness, require_audio=require_audio, challenge=challenge, origin=who)

            decision = gate.run(work)
        return decision.to_dict()

    @app.post("/v1/identify", dependencies=[Depends(require_key)], response_model=IdentifyOut, responses=errors(400, 401, 413, 422, 503))
    def identify(request: Request, video: UploadFile = File(...), k: int = Query(5, ge=1, le=100)) -> dict:
        who = origin(request)

        def work():
            with saved(video) as path, gate.turn():
                return verifier.identify(path, k, origin=who)

        with audited(audit, "identify", None, who, model_id):
            found = gate.run(work)
        return {"policy": verifier.policy.describe(), "candidates": [c.to_dict() for c in found]}

    @app.post("/v1/compare", dependencies=[Depends(require_key)], response_model=DecisionOut, responses=errors(400, 401, 413, 422, 503))
    def compare_videos(a: UploadFile = File(...), b: UploadFile = File(...), liveness: bool = Form(default=False)) -> dict:
        """Are the people of videos a and b the same? No store: `lipauth compare`'s decision,
        at the service's operating point and modalities (user: a's name, probe: b's)."""
        from lipauth.auth.compare import compare

        def work():
            with saved(a) as pa, saved(b) as pb, gate.turn():
                d = compare(verifier.model, pa, pb, operating_point=verifier.operating_point, modalities=verifier.modal.modalities, checks=verifier.checks if liveness else None)
            d.user, d.probe = client_name(a.filename), client_name(b.filename)
            return d

        return gate.run(work).to_dict()

    @app.post("/v1/embed", dependencies=[Depends(require_key)], response_model=EmbeddingOut, responses=errors(400, 401, 413, 422, 503))
    def embed(video: UploadFile = File(...)) -> dict:
        """The video's vectors, as `lipauth embed --modalities` writes them: the lips', and each
        other modality the service uses (null where it could not run: no speech, no face)."""
        modal = verifier.modal

        def work():
            with saved(video) as path, gate.turn():
                clip = verifier.model.clip(path, audio=modal.needs_audio, face_chips=modal.face_chips)
                return clip, verifier.model.embedder.embed_clips([clip])[0], modal.vectors(clip)

        _, lips, (others, left_out) = gate.run(work)
        return {
            "path": client_name(video.filename),
            "model_id": model_id,
            "lips": lips.tolist(),
            **{m: (others[m].tolist() if m in others else None) for m in modal.extra},
            "left_out": left_out,
        }

    @app.post("/v1/users/{user_id}/unlock", dependencies=[Depends(require_key)], response_model=UnlockOut, responses=errors(401, 404))
    def unlock(request: Request, user_id: str) -> dict:
        """End a user's cool-down after too many failed verifications (`lipauth users unlock`)."""
        return {"user": user_id, "cleared": verifier.unlock(user_id, origin=origin(request))}

    @app.get("/v1/audit", dependencies=[Depends(require_key)], response_model=AuditOut, responses=errors(400, 401))
    def audit_trail(
        user: str | None = Query(None, description="only this claimed user"),
        event: str | None = Query(None, description="enrol (or enroll), verify, identify, delete, challenge, token or unlock"),
        outcome: str | None = Query(None, description="e.g. accepted, rejected, or an error code"),
        limit: int = Query(100, ge=1, le=10000),
    ) -> dict:
        """The newest audit rows that match, newest first (`lipauth audit`)."""
        if audit is None:
            raise ApiError(400, "no_audit", "this service keeps no audit trail")
        return {"entries": [e.to_dict() for e in audit.entries(user_id=user, event=event, outcome=outcome, limit=limit)]}

    @app.delete("/v1/users/{user_id}", status_code=204, dependencies=[Depends(require_key)], responses=errors(401, 404))
    def delete(request: Request, user_id: str) -> Response:
        verifier.delete(user_id, origin=origin(request))
        return Response(status_code=204)

    return app


@contextmanager
def _all_saved(uploads, saved) -> Iterator[list[Path]]:
    with ExitStack() as stack:
        yield [stack.enter_context(saved(u)) for u in uploads]

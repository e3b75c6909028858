"""The REST service (FastAPI). OpenAPI docs at /docs and /redoc, served from the
`fastapi_offline` package (no CDN); a login page at /.

    POST   /v1/challenges                form: user?, ttl_s?  -> a one-time phrase to say
    POST   /v1/users/{user_id}/enroll   multipart: videos (one or more files), passphrase?, mode=new|replace|add
    POST   /v1/users/{user_id}/verify   multipart: video [, challenge, passphrase, liveness=true, require_audio=true]
    POST   /v1/identify?k=5             multipart: video
    GET    /v1/users
    DELETE /v1/users/{user_id}
    GET    /v1/health

Every request but /v1/health (and the page) needs the API key in `X-API-Key`. Every answer
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
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from fastapi import Depends, FastAPI, File, Form, Query, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from lipauth import __version__
from lipauth.auth.audit import Origin, audited
from lipauth.auth.challenges import ChallengeBook
from lipauth.auth.verifier import Verifier
from lipauth.errors import (
    ChallengeError,
    FailureToAcquire,
    FailureToEnrol,
    InvalidInputError,
    LipauthError,
    StoreError,
    StoreExistsError,
    TooManyAttemptsError,
    UnknownUserError,
    VideoDecodeError,
)
from lipauth.service.gate import Busy, WorkGate
from lipauth.service.schemas import ChallengeOut, DecisionOut, EnrolOut, HealthOut, IdentifyOut, UsersOut, errors

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


def _status(exc: LipauthError) -> int:
    if isinstance(exc, UnknownUserError):
        return 404
    if isinstance(exc, StoreExistsError):
        return 409
    if isinstance(exc, ChallengeError):
        return 403
    if isinstance(exc, TooManyAttemptsError):
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
) -> FastAPI:
    """require_challenge: every verify must answer a challenge from POST /v1/challenges (a
    recording made earlier cannot answer a phrase drawn now).

    max_waiting, wait_s: heavy requests (enrol, verify, identify) run one at a time; at most
    `max_waiting` wait, each at most `wait_s` seconds, and the others get 503 + Retry-After.
    timeout_s: a heavy request not answered this long after it arrived gets 503 (timed_out)
    then (None: no deadline; lipauth.service.gate says what happens to its work)."""
    if not api_key:
        raise InvalidInputError("the service needs an API key (set LIPAUTH_API_KEY)")
    app = FastAPIOffline(title="lipauth", version=__version__, description="Lip-based biometric verification. Send the API key in the X-API-Key header.")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Video decoding, landmarks and the network run one request at a time: the landmark
    # backends keep per-clip state, and two CPU-bound requests at once only slow each other.
    gate = app.state.gate = WorkGate(max_waiting=max_waiting, wait_s=wait_s, timeout_s=timeout_s)
    challenges = ChallengeBook(verifier.store)
    if verifier.index is None:  # identify searches an index of the templates, built once here
        verifier.build_index()
    verifier.model.embedder.freeze_for_inference()  # a long-lived process: half the embedding time
    verifier.modal.warm_up()  # the voice and face encoders load now, not in the first request
    try:  # liveness checks: loaded now, their AV-synchrony streams frozen like the lip network
        verifier.checks["av_sync"].model.freeze_for_inference()
    except (KeyError, AttributeError):  # checks of the caller's own, without that model
        pass
    audit, model_id = verifier.audit, verifier.model.id

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        given = request.headers.get("X-Request-ID", "")
        request.state.request_id = given if 0 < len(given) <= 64 and all(c.isalnum() or c in "-_." for c in given) else uuid.uuid4().hex
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
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))} if isinstance(exc, TooManyAttemptsError) else None
        return JSONResponse({"error": exc.code, "detail": str(exc)}, status_code=status, headers=headers)

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
    def challenge(user: str | None = Form(default=None), ttl_s: float = Form(default=120.0)) -> dict:
        """A one-time phrase to say on camera; verify with its challenge_id before it expires."""
        return challenges.issue(user, ttl_s=ttl_s).to_dict()

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

    @app.delete("/v1/users/{user_id}", status_code=204, dependencies=[Depends(require_key)], responses=errors(401, 404))
    def delete(request: Request, user_id: str) -> Response:
        verifier.delete(user_id, origin=origin(request))
        return Response(status_code=204)

    return app


@contextmanager
def _all_saved(uploads, saved) -> Iterator[list[Path]]:
    with ExitStack() as stack:
        yield [stack.enter_context(saved(u)) for u in uploads]

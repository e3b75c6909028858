"""The audit trail: one row per enrol, verify, identify, delete, challenge (issued or
refused), token issued and unlock, in the store's database
(SQLite or PostgreSQL alike), append-only. A row says when, what, which user was claimed,
the outcome (a decision, or the error's code), the scores of the identity check and of
every presentation-attack check, the model, the client's address and the request's id.
Never the video, an embedding or a passphrase: the trail must not become a second store of
biometric data.

The Verifier writes a row for every call that reaches it (`origin` says who asked); the
service also writes one for requests it refuses before that (an unknown user, a locked user,
an upload too large, a busy service). A refusal recorded once is not recorded again on its
way out (`recorded`).
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

import sqlalchemy as sa

from lipauth.auth.store import TemplateStore, create_tables
from lipauth.errors import InvalidInputError

EVENTS = ("enrol", "verify", "identify", "delete", "challenge", "token", "unlock")
SPELLINGS = {"enroll": "enrol"}  # American spelling, the CLI's command name


def parse_event(event: str | None) -> str | None:
    """An event name (enroll is enrol); None stays None."""
    if event is None:
        return None
    event = SPELLINGS.get(event, event)
    if event not in EVENTS:
        raise InvalidInputError(f"audit event must be one of {', '.join(EVENTS)}, got {event!r}")
    return event

_meta = sa.MetaData()
audit_table = sa.Table(
    "audit_log",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),  # POSIX seconds, UTC
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=True, index=True),  # the claim; none for identify
    sa.Column("outcome", sa.String(32), nullable=False),  # accepted, rejected, enrolled, deleted, matched, no_match, or an error code
    sa.Column("details", sa.Text, nullable=False),  # JSON: scores and thresholds, or the error's message
    sa.Column("model_id", sa.String(64), nullable=True),
    sa.Column("client", sa.String(128), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
)


@dataclass(frozen=True)
class Origin:
    """Who asked: the client's address (or "cli (user)") and the request's id."""

    client: str = "library"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    event: str
    user_id: str | None
    outcome: str
    details: dict
    model_id: str | None
    client: str
    request_id: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "time": datetime.fromtimestamp(self.at, timezone.utc).isoformat(timespec="seconds")}


class AuditLog:
    def __init__(self, store: TemplateStore, *, clock=None) -> None:
        self.engine = store.engine
        self._now = clock or (lambda: datetime.now(timezone.utc).timestamp())
        create_tables(_meta, self.engine)

    def record(self, event: str, user_id: str | None, outcome: str, details: dict, *, model_id: str | None, origin: Origin) -> None:
        if event not in EVENTS:
            raise InvalidInputError(f"audit event must be one of {', '.join(EVENTS)}, got {event!r}")
        row = {
            "at": self._now(),
            "event": event,
            "user_id": None if user_id is None else str(user_id)[:256],
            "outcome": outcome[:32],
            "details": json.dumps(details, default=float),
            "model_id": model_id,
            "client": origin.client[:128],
            "request_id": origin.request_id[:64],
        }
        with self.engine.begin() as conn:
            conn.execute(audit_table.insert().values(**row))

    def entries(
        self, *, user_id: str | None = None, event: str | None = None, outcome: str | None = None, since: float | None = None, until: float | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """The newest `limit` rows that match, newest first."""
        event = parse_event(event)
        c = audit_table.c
        q = sa.select(audit_table).order_by(c.id.desc()).limit(limit)
        for column, value in ((c.user_id, user_id), (c.event, event), (c.outcome, outcome)):
            if value is not None:
                q = q.where(column == value)
        if since is not None:
            q = q.where(c.at >= since)
        if until is not None:
            q = q.where(c.at < until)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [AuditEntry(**{**r, "details": json.loads(r["details"])}) for r in rows]


class _Recorder:
    """What one audited call will write: set by the call on success; an exception that
    leaves the call is written with its code instead."""

    def __init__(self) -> None:
        self.outcome: str | None = None
        self.details: dict = {}

    def done(self, outcome: str, **details) -> None:
        self.outcome, self.details = outcome, details


@contextmanager
def audited(log: AuditLog | None, event: str, user_id: str | None, origin: Origin | None, model_id: str | None) -> Iterator[_Recorder]:
    """Write one row for the call inside: its outcome (rec.done) or the error that ended
    it. An error already written by an inner `audited` is not written twice."""
    rec = _Recorder()
    try:
        yield rec
    except Exception as exc:
        if log is not None and not getattr(exc, "audited", False):
            log.record(event, user_id, getattr(exc, "code", type(exc).__name__), {"message": str(exc)[:500]}, model_id=model_id, origin=origin or Origin())
            try:
                exc.audited = True
            except AttributeError:  # an exception type that takes no attributes
                pass
        raise
    if log is not None and rec.outcome is not None:
        log.record(event, user_id, rec.outcome, rec.details, model_id=model_id, origin=origin or Origin())

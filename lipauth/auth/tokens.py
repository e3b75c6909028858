"""Short-lived, one-time, user-bound tokens: what a login page holds instead of the
service's API key.

A *login* token comes with a challenge from a public endpoint and lets its holder make one
verify attempt, for its user, answering that challenge. An *enrol* token is issued by an
operator (with the API key) for one user and lets its holder enrol that user once, in the
mode the operator chose. Neither can do anything else: they are not API keys.

Only a SHA-256 of each token is stored (in the template store's database, so every worker of
a service sees the same ones): a copy of the database does not hand out live tokens. A token
is redeemed by one UPDATE that matches only an unused row, so two requests racing with the
same token cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from lipauth.auth.audit import audited
from lipauth.auth.store import TemplateStore, create_tables
from lipauth.errors import InvalidInputError, TokenError, UnknownUserError

SCOPES = ("login", "enrol")
DEFAULT_TTL_S = {"login": 180.0, "enrol": 900.0}
MAX_TTL_S = 24 * 3600.0

_meta = sa.MetaData()
tokens_table = sa.Table(
    "access_tokens",
    _meta,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("user_id", sa.String(256), nullable=False),
    sa.Column("mode", sa.String(16), nullable=True),  # enrol: new, replace or add
    sa.Column("challenge_id", sa.String(64), nullable=True),  # login: the challenge it answers
    sa.Column("expires_at", sa.Float, nullable=False),  # POSIX seconds
    sa.Column("used_at", sa.Float, nullable=True),
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    """What a redeemed token allows: one `scope` action for `user_id`."""

    scope: str
    user_id: str
    expires_at: float
    mode: str | None = None
    challenge_id: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, to whoever asked; only its hash is kept
    grant: Grant

    def to_dict(self) -> dict:
        g = self.grant
        return {
            "token": self.token,
            "scope": g.scope,
            "user": g.user_id,
            "mode": g.mode,
            "expires_at": datetime.fromtimestamp(g.expires_at, timezone.utc).isoformat(timespec="seconds"),
        }


class TokenBook:
    def __init__(self, store: TemplateStore, *, clock=None) -> None:
        self.store = store
        self.engine = store.engine
        self._now = clock or (lambda: datetime.now(timezone.utc).timestamp())
        create_tables(_meta, self.engine)

    def issue(self, scope: str, user_id: str, *, ttl_s: float | None = None, mode: str | None = None, challenge_id: str | None = None) -> IssuedToken:
        """A new token. A login token is only for an enrolled user (UnknownUserError); an
        enrol token names its mode (new: the user must not be enrolled yet, when it is used)."""
        if scope not in SCOPES:
            raise InvalidInputError(f"token scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        ttl_s = DEFAULT_TTL_S[scope] if ttl_s is None else float(ttl_s)
        if not 1 <= ttl_s <= MAX_TTL_S:
            raise InvalidInputError(f"a token lives 1 s to {MAX_TTL_S / 3600:g} h, got {ttl_s:g} s")
        if scope == "login" and user_id not in self.store:
            raise UnknownUserError(f"no user {user_id!r} is enrolled")
        if scope == "enrol" and mode not in ("new", "replace", "add"):
            raise InvalidInputError(f"an enrol token's mode is new, replace or add, got {mode!r}")
        now = self._now()
        token = secrets.token_urlsafe(32)
        grant = Grant(scope, str(user_id), now + ttl_s, mode if scope == "enrol" else None, challenge_id)
        with self.engine.begin() as conn:
            conn.execute(tokens_table.delete().where(tokens_table.c.expires_at < now - 3600))  # keep the table small
            conn.execute(
                tokens_table.insert().values(
                    token_hash=_digest(token), scope=scope, user_id=grant.user_id, mode=grant.mode, challenge_id=challenge_id, expires_at=grant.expires_at
                )
            )
        return IssuedToken(token, grant)

    def redeem(self, token: str | None, scope: str) -> Grant:
        """Use the token up and return what it allows; TokenError if it is missing, unknown,
        of another scope, used or expired. A refused token stays refused (it is used up
        either way, so a token tried on the wrong endpoint cannot be tried again)."""
        if not token:
            raise TokenError(f"this needs a {scope} token (header Authorization: Bearer <token>)")
        now = self._now()
        c = tokens_table.c
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(tokens_table).where(c.token_hash == _digest(str(token)))).first()
            if row is None:
                raise TokenError("unknown token")
            claimed = conn.execute(tokens_table.update().where(c.token_hash == row.token_hash, c.used_at.is_(None)).values(used_at=now)).rowcount
        # raised after the transaction commits, so that the refused token stays used up
        if claimed != 1:
            raise TokenError("this token was already used; ask for a new one")
        if row.scope != scope:
            raise TokenError(f"a {row.scope} token cannot be used to {scope}")
        if row.expires_at < now:
            raise TokenError(f"this token expired {now - row.expires_at:.0f} s ago; ask for a new one")
        return Grant(row.scope, row.user_id, row.expires_at, row.mode, row.challenge_id)

    def give_back(self, token: str) -> None:
        """Make a redeemed token usable again: for an action that was refused before it
        changed anything (an enrolment whose clips were refused), so that the person can
        retry without a new token. Its expiry stands."""
        with self.engine.begin() as conn:
            conn.execute(tokens_table.update().where(tokens_table.c.token_hash == _digest(str(token))).values(used_at=None))


def issue_enrol_token(book: TokenBook, user_id: str, *, mode: str = "new", ttl_s: float | None = None, audit=None, origin=None, model_id: str | None = None) -> IssuedToken:
    """The operator's step, the CLI's and the service's alike: an enrol token for `user_id`
    (mode new: refused, 409, where the user is enrolled already), with its audit row."""
    with audited(audit, "token", user_id, origin, model_id) as rec:
        if mode == "new":
            book.store.refuse_enrolled(user_id)
        issued = book.issue("enrol", user_id, ttl_s=ttl_s, mode=mode)
        rec.done("issued", scope="enrol", mode=mode)
    return issued

"""One-time spoken challenges, kept in the template store's database so that every worker
of a service (and the CLI) sees the same ones, and a challenge is redeemed at most once even
when two requests race for it (the redeeming UPDATE matches only an unused row).

Only the phrase, its user, and its times are stored; nothing biometric.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa

from lipauth.auth.audit import audited
from lipauth.auth.store import TemplateStore, create_tables
from lipauth.errors import ChallengeError, InvalidInputError, UnknownUserError
from lipauth.pad import challenge_phrases as phrases

DEFAULT_TTL_S = 120.0

_meta = sa.MetaData()
challenges_table = sa.Table(
    "challenges",
    _meta,
    sa.Column("challenge_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(256), nullable=True),  # None: any user may answer it
    sa.Column("phrase", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),  # POSIX seconds
    sa.Column("used_at", sa.Float, nullable=True),
)


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    phrase: str
    expires_at: float
    user_id: str | None = None

    def to_dict(self) -> dict:
        return {
            "challenge_id": self.challenge_id,
            "phrase": self.phrase,
            "user": self.user_id,
            "expires_at": datetime.fromtimestamp(self.expires_at, timezone.utc).isoformat(timespec="seconds"),
        }


class ChallengeBook:
    def __init__(self, store: TemplateStore, *, clock=None) -> None:
        self.store = store
        self.engine = store.engine
        self._now = clock or (lambda: datetime.now(timezone.utc).timestamp())
        create_tables(_meta, self.engine)

    def issue(self, user_id: str | None = None, *, ttl_s: float = DEFAULT_TTL_S) -> Challenge:
        """A challenge for `user_id` (None: anyone may answer it); UnknownUserError for a user
        who is not enrolled, who has nothing to log in to."""
        if not 1 <= ttl_s <= 3600:
            raise InvalidInputError(f"a challenge lives 1 s to 1 h, got {ttl_s:g} s")
        if user_id is not None and user_id not in self.store:
            raise UnknownUserError(f"no user {user_id!r} is enrolled")
        now = self._now()
        challenge = Challenge(secrets.token_urlsafe(16), phrases.random_phrase(), now + ttl_s, user_id)
        with self.engine.begin() as conn:
            conn.execute(challenges_table.delete().where(challenges_table.c.expires_at < now - 3600))  # keep the table small
            conn.execute(challenges_table.insert().values(challenge_id=challenge.challenge_id, user_id=user_id, phrase=challenge.phrase, expires_at=challenge.expires_at))
        return challenge

    def redeem(self, challenge_id: str, user_id: str) -> Challenge:
        """Mark the challenge used and return it; ChallengeError if it is unknown, used,
        expired or was issued to another user. A refused challenge stays refused."""
        now = self._now()
        c = challenges_table.c
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(challenges_table).where(c.challenge_id == str(challenge_id))).first()
            if row is None:
                raise ChallengeError("unknown challenge id")
            if row.user_id is not None and row.user_id != user_id:
                raise ChallengeError("this challenge was issued to another user")
            claimed = conn.execute(challenges_table.update().where(c.challenge_id == row.challenge_id, c.used_at.is_(None)).values(used_at=now)).rowcount
            if claimed != 1:
                raise ChallengeError("this challenge was already used; ask for a new one")
            if row.expires_at < now:
                raise ChallengeError(f"this challenge expired {now - row.expires_at:.0f} s ago; ask for a new one")
        return Challenge(row.challenge_id, row.phrase, row.expires_at, row.user_id)


def issue_challenge(book: ChallengeBook, user_id: str | None, *, ttl_s: float = DEFAULT_TTL_S, audit=None, origin=None, model_id: str | None = None) -> Challenge:
    """A challenge with its audit row (issued, or the refusal: an unknown user, a bad ttl), as
    the CLI and the service issue them."""
    with audited(audit, "challenge", user_id, origin, model_id) as rec:
        issued = book.issue(user_id, ttl_s=ttl_s)
        rec.done("issued", challenge_id=issued.challenge_id)
    return issued

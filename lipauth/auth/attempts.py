"""Attempt limits: after `max_failures` failed verifications of one user within `window_s`,
further attempts are refused for `cooldown_s`. The counts live in the store's database, so a
restart forgets nothing and several service workers (and the CLI) count together; a
successful verification resets them, and an administrator can clear them.

A failure is a rejected decision. Errors before a decision (an unreadable upload, no face)
are not counted: they say nothing about whether the attempt was an impostor's, and counting
them would let anyone lock a user out with junk uploads faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from lipauth.auth.audit import audited
from lipauth.auth.store import TemplateStore, create_tables
from lipauth.errors import InvalidInputError, StoreError, TooManyAttemptsError, UnknownUserError

_meta = sa.MetaData()
attempts_table = sa.Table(
    "attempts",
    _meta,
    sa.Column("user_id", sa.String(256), primary_key=True),
    sa.Column("window_start", sa.Float, nullable=False),  # POSIX seconds of the window's first failure
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.Float, nullable=True),
)


@dataclass(frozen=True)
class AttemptPolicy:
    max_failures: int = 5
    window_s: float = 900.0
    cooldown_s: float = 900.0

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window_s <= 0 or self.cooldown_s <= 0:
            raise InvalidInputError(f"attempt limits must be positive, got {self}")


class AttemptLimiter:
    def __init__(self, store: TemplateStore, policy: AttemptPolicy | None = None, *, clock=None) -> None:
        self.engine = store.engine
        self.policy = policy or AttemptPolicy()
        self._now = clock or (lambda: datetime.now(timezone.utc).timestamp())
        create_tables(_meta, self.engine)

    def check(self, user_id: str) -> None:
        """TooManyAttemptsError if the user is in a cool-down."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(attempts_table.c.locked_until).where(attempts_table.c.user_id == user_id)).first()
        now = self._now()
        if row is not None and row.locked_until is not None and row.locked_until > now:
            wait = row.locked_until - now
            raise TooManyAttemptsError(f"too many failed attempts for {user_id!r}: try again in {wait:.0f} s", retry_after_s=wait)

    def record(self, user_id: str, accepted: bool) -> None:
        """Count a decision: a success clears the user's count, a failure adds to it and
        starts the cool-down at the limit. One transaction; concurrent failures all count
        (two first failures racing to insert the row: the loser counts again on the row)."""
        for _ in range(20):
            try:
                return self._record(user_id, accepted)
            except IntegrityError:
                continue
        raise StoreError(f"could not record an attempt for {user_id!r}: the store kept changing under it")

    def _record(self, user_id: str, accepted: bool) -> None:
        # Single-statement writes only: SQLite would fail a transaction that reads and then
        # writes while another writer is active, and every database serialises these.
        now, p, c = self._now(), self.policy, attempts_table.c
        mine = c.user_id == user_id
        with self.engine.begin() as conn:
            if accepted:
                conn.execute(attempts_table.delete().where(mine))
                return
            current = sa.and_(mine, c.window_start >= now - p.window_s, sa.or_(c.locked_until.is_(None), c.locked_until > now))
            counted = conn.execute(
                attempts_table.update()
                .where(current)
                .values(failures=c.failures + 1, locked_until=sa.case((c.failures + 1 >= p.max_failures, now + p.cooldown_s), else_=c.locked_until))
            ).rowcount
            if counted:
                return
            conn.execute(attempts_table.delete().where(mine, sa.not_(current)))  # a window that has run out, or a finished cool-down
            conn.execute(attempts_table.insert().values(user_id=user_id, window_start=now, failures=1, locked_until=now + p.cooldown_s if p.max_failures == 1 else None))

    def failures(self, user_id: str) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(attempts_table.c.failures).where(attempts_table.c.user_id == user_id)).first()
        return 0 if row is None else int(row.failures)

    def clear(self, user_id: str) -> bool:
        """Forget the user's failures and end any cool-down; False if there was nothing."""
        with self.engine.begin() as conn:
            return conn.execute(attempts_table.delete().where(attempts_table.c.user_id == user_id)).rowcount > 0


def unlock(store: TemplateStore, user_id: str, *, audit=None, origin=None) -> bool:
    """Clear an enrolled user's failed attempts, ending a cool-down, with its audit row;
    whether there were any. UnknownUserError for a user who is not enrolled."""
    with audited(audit, "unlock", user_id, origin, None) as rec:
        if user_id not in store:
            raise UnknownUserError(f"no user {user_id!r} is enrolled")
        cleared = AttemptLimiter(store).clear(user_id)
        rec.done("unlocked" if cleared else "nothing_to_clear")
    return cleared

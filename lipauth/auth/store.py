"""The template store: SQLite by default (a file path), any SQLAlchemy URL otherwise.

Schema (versioned in `meta.schema_version`):
    meta(key, value)                         schema_version, key_check (an encrypted constant)
    users(user_id, created_at, updated_at, n_clips, payload)
                                             payload = the encrypted Template (embeddings,
                                             model id, passphrase)

Opening a store with the wrong key fails at once, on the key check, before any template is
read. A store is only created when asked (`create=True`, what enrolment does): a mistyped path
is an error, not a new empty store, and a store whose key file is missing says so rather than
making a new key that then looks "wrong". Every write is one transaction, so a process killed mid-enrolment leaves the store as
it was. SQLite runs with secure_delete, so a deleted user's bytes are overwritten, not just
unlinked.
"""

from __future__ import annotations

import os
import struct
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError

from lipauth.auth.crypto import KEY_ENV, Cipher, create_key, load_key
from lipauth.auth.templates import Template
from lipauth.errors import StoreError, StoreExistsError, StoreNotFoundError, UnknownUserError

SCHEMA_VERSION = 1
KEY_CHECK = b"lipauth-store-key-check"

_meta = sa.MetaData()
meta_table = sa.Table("meta", _meta, sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.LargeBinary, nullable=False))
SEALED = b"LTS1"  # a payload of two encrypted parts (TemplateStore.seal); a Fernet token starts "gAAAA"

users_table = sa.Table(
    "users",
    _meta,
    sa.Column("user_id", sa.String(256), primary_key=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("n_clips", sa.Integer, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
)

# One row per enrolment, replacement or deletion, written in the same transaction: an
# in-memory index of the templates (lipauth.auth.indexed) follows it to stay in step with
# every process that writes the store. A deletion erases the user's rows and leaves only a
# keyed digest of their id (`gone`), so a deleted user's id is not kept here. Stores made
# before the log gain it at their next write.
_changes_meta = sa.MetaData()
changes_table = sa.Table(
    "changes",
    _changes_meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.String(256), nullable=True),  # enrolled or replaced
    sa.Column("gone", sa.String(64), nullable=True),  # deleted: Cipher.digest(user_id)
)


def default_store_path() -> Path:
    return Path(os.environ.get("LIPAUTH_STORE", Path.home() / ".lipauth" / "templates.db"))


class TemplateStore:
    def __init__(self, location: str | os.PathLike | None = None, *, key_file: str | os.PathLike | None = None, create: bool = False) -> None:
        """create: make the store (and its key file) if there is none; otherwise a store that
        does not exist raises StoreNotFoundError. After opening, `created` says whether this
        call made the store and `key_created` names a key file it wrote (to be backed up:
        without it the templates cannot be read)."""
        location = str(location or default_store_path())
        self.location = location
        self._changes_ready = False
        self.created = False
        self.key_created: Path | None = None
        if "://" in location:
            url = location
            self.key_path = Path(key_file) if key_file else Path.home() / ".lipauth" / "store.key"
        else:
            path = Path(location)
            if not path.exists() and not create:
                raise StoreNotFoundError(f"no template store at {path} (check --store; enrolling a user creates one)")
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
            self.key_path = Path(key_file) if key_file else path.with_suffix(path.suffix + ".key")
        try:
            self.engine = sa.create_engine(url)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot open template store {location!r}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._open(create)

    def _open(self, create: bool) -> None:
        try:
            with self.engine.connect() as conn:
                has_meta = sa.inspect(conn).has_table("meta")
                rows = dict(conn.execute(sa.select(meta_table.c.key, meta_table.c.value)).all()) if has_meta else {}
        except OperationalError as exc:
            raise StoreError(f"cannot open template store {self.location!r}: {exc.orig}") from None
        if not rows:
            if not create:
                raise StoreNotFoundError(f"{self.location} holds no lipauth template store (check --store; enrolling a user creates one)")
            self._create()
            return
        version = int(rows.get("schema_version", b"0"))
        if version > SCHEMA_VERSION:
            raise StoreError(f"store schema v{version} is newer than this lipauth understands (v{SCHEMA_VERSION}); upgrade lipauth")
        if not os.environ.get(KEY_ENV) and not self.key_path.exists():
            raise StoreNotFoundError(f"the key file {self.key_path} is missing: the store {self.location} cannot be read without it (restore it from your backup, or set ${KEY_ENV})")
        self.cipher = Cipher(load_key(self.key_path))
        if self.cipher.decrypt(rows["key_check"]) != KEY_CHECK:  # raises StoreKeyError on a wrong key
            raise StoreError("store key check failed")

    def _create(self) -> None:
        if os.environ.get(KEY_ENV) or self.key_path.exists():
            key = load_key(self.key_path)
        else:
            key = create_key(self.key_path)
            self.key_created = self.key_path
        self.cipher = Cipher(key)
        try:
            _meta.create_all(self.engine)
            _changes_meta.create_all(self.engine)
            with self.engine.begin() as conn:
                conn.execute(meta_table.insert(), [
                    {"key": "schema_version", "value": str(SCHEMA_VERSION).encode()},
                    {"key": "key_check", "value": self.cipher.encrypt(KEY_CHECK)},
                ])  # fmt: skip
        except OperationalError as exc:
            raise StoreError(f"cannot create template store {self.location!r}: {exc.orig}") from None
        self.created = True

    # -- templates --------------------------------------------------------------------------
    def put(self, template: Template, *, replace: bool = False) -> None:
        """Store a template. An enrolled user is only overwritten with replace=True; otherwise
        StoreExistsError, and the store is unchanged."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        payload = self.seal(template)
        try:
            self._put(template.user_id, payload, len(template.embeddings), now, replace)
        except IntegrityError:  # another process enrolled the same id between our read and write
            raise StoreExistsError(f"user {template.user_id!r} was enrolled by another request meanwhile") from None

    def _put(self, user_id: str, payload: bytes, n_clips: int, now: str, replace: bool) -> None:
        self._ensure_changes()
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(users_table.c.n_clips, users_table.c.created_at).where(users_table.c.user_id == user_id)).first()
            values = {"updated_at": now, "n_clips": n_clips, "payload": payload}
            if exists and not replace:
                raise already_enrolled(user_id, dict(exists._mapping))
            if exists:
                conn.execute(users_table.update().where(users_table.c.user_id == user_id).values(**values))
            else:
                conn.execute(users_table.insert().values(user_id=user_id, created_at=now, **values))
            conn.execute(changes_table.insert().values(user_id=user_id))

    def refuse_enrolled(self, user_id: str) -> None:
        """StoreExistsError if `user_id` is enrolled: what put() without replace would say."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users_table.c.n_clips, users_table.c.created_at).where(users_table.c.user_id == user_id)).first()
        if row is not None:
            raise already_enrolled(user_id, dict(row._mapping))

    def get(self, user_id: str) -> Template:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users_table.c.payload).where(users_table.c.user_id == user_id)).first()
        if row is None:
            raise UnknownUserError(f"no user {user_id!r} is enrolled")
        return self._unseal(user_id, row.payload)

    def seal(self, template: Template) -> bytes:
        """The encrypted payload of a template: SEALED, the first part's length, then its two
        parts (Template.to_parts), each encrypted on its own, so that the identify index can
        read the lips without decrypting the rest."""
        first, rest = (self.cipher.encrypt(p) for p in template.to_parts())
        return SEALED + struct.pack("<I", len(first)) + first + rest

    def _split(self, payload: bytes) -> tuple[bytes, bytes] | None:
        if payload[:4] != SEALED:
            return None  # one Fernet token: a template stored before the parts
        (n,) = struct.unpack_from("<I", payload, 4)
        return payload[8 : 8 + n], payload[8 + n :]

    def _unseal(self, user_id: str, payload: bytes) -> Template:
        parts = self._split(payload)
        if parts is None:
            return Template.from_bytes(user_id, self.cipher.decrypt(payload))
        return Template.from_parts(user_id, *(self.cipher.decrypt(p) for p in parts))

    def delete(self, user_id: str) -> None:
        self._ensure_changes()
        with self.engine.begin() as conn:
            n = conn.execute(users_table.delete().where(users_table.c.user_id == user_id)).rowcount
            if n:
                # the log forgets the id but keeps the rows: deleting them let SQLite give
                # their number to the row below, which a reader that had seen that number missed
                conn.execute(changes_table.update().where(changes_table.c.user_id == user_id).values(user_id=None))
                conn.execute(changes_table.insert().values(gone=self.cipher.digest(user_id)))
        if n == 0:
            raise UnknownUserError(f"no user {user_id!r} is enrolled")

    # -- the change log ---------------------------------------------------------------------
    def _ensure_changes(self) -> None:
        if not self._changes_ready:
            create_tables(_changes_meta, self.engine)
            self._changes_ready = True

    def changes_since(self, seq: int) -> tuple[int, list[str], list[str]]:
        """(the newest change's number, the users enrolled or replaced after `seq`, the digests
        (`user_digest`) of the users deleted after it); (seq, [], []) for a store no process
        has written since the log existed."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(changes_table).where(changes_table.c.seq > seq).order_by(changes_table.c.seq)).all()
        except (OperationalError, ProgrammingError):  # no change log yet
            return seq, [], []
        newest = rows[-1].seq if rows else seq
        return newest, list(dict.fromkeys(r.user_id for r in rows if r.user_id)), list(dict.fromkeys(r.gone for r in rows if r.gone))

    def user_digest(self, user_id: str) -> str:
        """How the change log names a deleted user."""
        return self.cipher.digest(user_id)

    def change_seq(self) -> int:
        """The newest change's number (0: none logged)."""
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(sa.select(sa.func.max(changes_table.c.seq))).scalar() or 0)
        except (OperationalError, ProgrammingError):  # no change log yet
            return 0

    def user_id_at(self, k: int) -> str | None:
        """The k-th user id in sorted order (0-based; None past the last): where to split the
        store between workers."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users_table.c.user_id).order_by(users_table.c.user_id).offset(k).limit(1)).scalar()

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users_table)).scalar() or 0)

    def users(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users_table.c.user_id, users_table.c.created_at, users_table.c.updated_at, users_table.c.n_clips).order_by(users_table.c.user_id)).all()
        return [dict(r._mapping) for r in rows]

    def templates(self) -> list[Template]:
        return [t for batch in self.iter_templates() for t in batch]

    def iter_templates(self, batch: int = 10_000) -> Iterator[list[Template]]:
        """Every template, `batch` at a time, streamed from the database (a store of 10^6
        users is never held as encrypted rows and templates at once)."""
        for rows in self._stream(sa.select(users_table.c.user_id, users_table.c.payload), batch):
            yield [self._unseal(r.user_id, r.payload) for r in rows]

    def iter_index(self, batch: int = 10_000, *, first: str | None = None, before: str | None = None) -> Iterator[list[tuple[str, str, np.ndarray]]]:
        """(user, model id, lip embeddings) of every template (with user ids from `first` on
        and before `before`, where given), `batch` at a time: only the part of each payload
        that holds them is decrypted (a service's start-up)."""
        c = users_table.c
        query = sa.select(c.user_id, c.payload)
        if first is not None:
            query = query.where(c.user_id >= first)
        if before is not None:
            query = query.where(c.user_id < before)
        for rows in self._stream(query, batch):
            out = []
            for r in rows:
                parts = self._split(r.payload)
                if parts is None:
                    t = Template.from_bytes(r.user_id, self.cipher.decrypt(r.payload))
                    out.append((r.user_id, t.model_id, t.embeddings))
                else:
                    out.append((r.user_id, *Template.index_part(self.cipher.decrypt(parts[0]))))
            yield out

    def _stream(self, query, batch: int):
        """The query's rows, `batch` at a time, read as they come (not all held at once)."""
        with self.engine.connect() as conn:
            yield from conn.execution_options(stream_results=True, yield_per=batch).execute(query).partitions(batch)

    def __contains__(self, user_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users_table.c.user_id).where(users_table.c.user_id == user_id)).first() is not None

    def close(self) -> None:
        self.engine.dispose()


def create_tables(metadata: sa.MetaData, engine: sa.Engine) -> None:
    """A module's tables in the store's database, if missing. Two processes may race to
    create them; the loser finds them made."""
    try:
        metadata.create_all(engine)
    except (OperationalError, ProgrammingError, IntegrityError):
        missing = [t for t in metadata.tables if not sa.inspect(engine).has_table(t)]
        if missing:
            raise StoreError(f"cannot create the tables {missing} in {engine.url.render_as_string(hide_password=True)}") from None


def already_enrolled(user_id: str, row: dict) -> StoreExistsError:
    return StoreExistsError(f"user {user_id!r} is already enrolled ({row['n_clips']} clips, since {row['created_at']}); replace them or add clips explicitly (--replace / --add)")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten with zeros
    cur.execute("PRAGMA journal_mode = WAL")  # readers do not block the writer (service)
    cur.execute("PRAGMA busy_timeout = 5000")
    # with WAL, NORMAL is corruption-safe and durable across process crashes; a power cut may
    # lose the last commits. FULL fsynced every audit row: 18-21 ms of each verify.
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()

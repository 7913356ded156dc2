"""The embedded store: one sqlite database in WAL mode, for the processes of one machine.

Why plain sqlite3 rather than a key-value wrapper: each compound change is
one transaction (no separate file lock, no commit per key), timers are rows
indexed by due time, a queue is rows indexed by (queue, sequence), so a push
never rewrites a list and nothing scans a table to find due work.

Calls run on the caller's thread: each statement takes microseconds and
WAL lets readers go on while one process writes, so a thread hop would cost
more than the query. `synchronous=NORMAL` keeps every commit through a crash
of any process; only a power cut can lose the last commits (set
`store.durable: true` for an fsync per commit at about a millisecond each).

The sidecar hears of other processes' pushes through a named pipe beside
the database (`<path>.wake`): a writer that finds a reader writes the
queue's name, non-blocking, and never waits for it.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sqlite3
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from .base import (
    ONCE_TTL,
    ArmTimer,
    Change,
    Delete,
    DisarmTimer,
    Drop,
    Pop,
    Push,
    Put,
    QueueListener,
    Store,
    dump_value as _dump,
    key_text as _text,
    pushed_queues,
    queue_kind,
)

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, item_id TEXT, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_by_queue ON items (queue, seq);
CREATE TABLE IF NOT EXISTS once (key TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timers (key TEXT PRIMARY KEY, id TEXT NOT NULL, due REAL NOT NULL, value TEXT NOT NULL)
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due);
"""

# Forget expired once-keys every this many writes (a cheap indexed delete).
_PURGE_EVERY = 1000




def _prefix_range(prefix: str) -> tuple[str, Optional[str]]:
    """[low, high) bounds of the strings starting with `prefix`, for an index range scan."""
    if not prefix:
        return "", None
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SqliteStore(Store):
    def __init__(self, path: str, durable: bool = False) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(_SCHEMA)  # idempotent, each statement atomic
        self._writes = 0
        self._listeners: list[QueueListener] = []
        self._wake = _WakePipe(Path(f"{path}.wake"))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- reads ---------------------------------------------------------------

    async def get(self, key: str) -> Optional[dict]:
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (_text(key),)).fetchone()
        return json.loads(row[0]) if row else None

    async def peek(self, queue: str) -> Optional[dict]:
        row = self._db.execute(
            "SELECT value FROM items WHERE queue = ? ORDER BY seq LIMIT 1", (_text(queue),)
        ).fetchone()
        return json.loads(row[0]) if row else None

    async def items(self, queue: str, limit: int = 100) -> list[dict]:
        rows = self._db.execute(
            "SELECT value FROM items WHERE queue = ? ORDER BY seq LIMIT ?", (_text(queue), limit)
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    async def queues(self, prefix: str) -> list[str]:
        low, high = _prefix_range(_text(prefix))
        if high is None:
            rows = self._db.execute("SELECT DISTINCT queue FROM items").fetchall()
        else:
            rows = self._db.execute(
                "SELECT DISTINCT queue FROM items WHERE queue >= ? AND queue < ?", (low, high)
            ).fetchall()
        return [row[0] for row in rows]

    async def depths(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for queue, count in self._db.execute("SELECT queue, COUNT(*) FROM items GROUP BY queue"):
            kind = queue_kind(queue)
            counts[kind] = counts.get(kind, 0) + count
        return counts

    async def timer(self, key: str) -> Optional[dict]:
        row = self._db.execute("SELECT value FROM timers WHERE key = ?", (_text(key),)).fetchone()
        return json.loads(row[0]) if row else None

    async def due_timers(self, now: float, limit: int = 100) -> list[dict]:
        rows = self._db.execute(
            "SELECT value FROM timers WHERE due <= ? ORDER BY due LIMIT ?", (now, limit)
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    # -- writes --------------------------------------------------------------

    async def write(self, *changes: Change) -> list[bool]:
        now = time.time()
        with self._transaction() as db:
            results = [self._apply(db, change, now) for change in changes]
            self._writes += 1
            if self._writes % _PURGE_EVERY == 0:
                db.execute("DELETE FROM once WHERE until < ?", (now,))
        self._announce(pushed_queues(changes, results))
        return results

    def _apply(self, db: sqlite3.Connection, change: Change, now: float) -> bool:
        if isinstance(change, Put):
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_text(change.key), _dump(change.value)),
            )
        elif isinstance(change, Delete):
            db.execute("DELETE FROM kv WHERE key = ?", (_text(change.key),))
        elif isinstance(change, Push):
            return self._push(db, change, now)
        elif isinstance(change, Pop):
            return self._pop(db, change)
        elif isinstance(change, Drop):
            cursor = db.execute(
                "DELETE FROM items WHERE seq = "
                "(SELECT seq FROM items WHERE queue = ? AND item_id = ? ORDER BY seq LIMIT 1)",
                (_text(change.queue), _text(change.item_id)),
            )
            return cursor.rowcount == 1
        elif isinstance(change, ArmTimer):
            db.execute(
                "INSERT OR REPLACE INTO timers (key, id, due, value) VALUES (?, ?, ?, ?)",
                (_text(change.key), _text(change.timer["id"]), float(change.timer["due"]), _dump(change.timer)),
            )
        elif isinstance(change, DisarmTimer):
            db.execute("DELETE FROM timers WHERE key = ?", (_text(change.key),))
        else:
            raise TypeError(f"not a store change: {change!r}")
        return True

    def _push(self, db: sqlite3.Connection, change: Push, now: float) -> bool:
        if change.once is not None:
            once = _text(change.once)
            row = db.execute("SELECT until FROM once WHERE key = ?", (once,)).fetchone()
            if row is not None and row[0] > now:
                return False
            db.execute("INSERT OR REPLACE INTO once (key, until) VALUES (?, ?)", (once, now + ONCE_TTL))
        item_id = change.item.get("id")
        db.execute(
            "INSERT INTO items (queue, item_id, value) VALUES (?, ?, ?)",
            (_text(change.queue), _text(str(item_id)) if item_id is not None else None, _dump(change.item)),
        )
        return True

    def _pop(self, db: sqlite3.Connection, change: Pop) -> bool:
        head = db.execute(
            "SELECT seq, item_id FROM items WHERE queue = ? ORDER BY seq LIMIT 1", (_text(change.queue),)
        ).fetchone()
        if head is None or head[1] != _text(change.item_id):
            return False
        db.execute("DELETE FROM items WHERE seq = ?", (head[0],))
        return True

    async def claim_timer(self, key: str, timer_id: str) -> bool:
        cursor = self._db.execute("DELETE FROM timers WHERE key = ? AND id = ?", (_text(key), _text(timer_id)))
        return cursor.rowcount == 1

    # -- leases --------------------------------------------------------------

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        now = time.time()
        cursor = self._db.execute(
            "INSERT INTO leases (name, owner, until) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until "
            "WHERE leases.owner = excluded.owner OR leases.until <= ?",
            (_text(name), owner, now + ttl, now),
        )
        return cursor.rowcount == 1

    async def release(self, name: str, owner: str) -> None:
        self._db.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (_text(name), owner))

    # -- wake-ups ------------------------------------------------------------

    def listen(self, listener: QueueListener) -> None:
        if not self._listeners:
            self._wake.receive(self._hear)
        self._listeners.append(listener)

    def _hear(self, queue: str) -> None:
        for listener in list(self._listeners):
            listener(queue)

    def _announce(self, queues: list[str]) -> None:
        if not queues:
            return
        if self._listeners:
            # This process delivers: tell it directly, no pipe round trip.
            for queue in queues:
                self._hear(queue)
        else:
            self._wake.send(queues)

    async def ping(self) -> None:
        self._db.execute("SELECT 1").fetchone()

    async def close(self) -> None:
        self._wake.close()
        self._db.close()


class _WakePipe:
    """Queue names from writer processes to the sidecar, through a named pipe.

    Lossy by design: a name that does not fit (no reader, pipe full) is found
    by the sidecar's next periodic look instead. Nothing here ever blocks.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._writer: Optional[int] = None
        self._reader: Optional[int] = None
        self._partial = b""

    def send(self, queues: list[str]) -> None:
        data = b"".join(json.dumps(queue).encode() + b"\n" for queue in queues)
        if len(data) > 4096:  # beyond PIPE_BUF a write may interleave with another's
            return
        if self._writer is None and not self._open_writer():
            return
        try:
            os.write(self._writer, data)
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already
        except OSError:
            self._close_writer()  # the reader went away; open again next time

    def _open_writer(self) -> bool:
        try:
            self._writer = os.open(self._path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return False  # no sidecar listening on this machine (ENXIO), or no pipe yet
        return True

    def _close_writer(self) -> None:
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None

    def receive(self, hear: QueueListener) -> None:
        try:
            os.mkfifo(self._path, 0o600)
        except FileExistsError:
            pass
        except OSError as error:
            logger.warning("No wake-up pipe at %s (%s): other processes' messages wait for the next poll",
                           self._path, errno.errorcode.get(error.errno, error))
            return
        if not stat.S_ISFIFO(os.stat(self._path).st_mode):
            logger.warning("%s is not a named pipe: other processes' messages wait for the next poll", self._path)
            return
        # Read-write, so the pipe never reports end-of-file when the last writer closes.
        self._reader = os.open(self._path, os.O_RDWR | os.O_NONBLOCK)
        asyncio.get_running_loop().add_reader(self._reader, self._readable, hear)

    def _readable(self, hear: QueueListener) -> None:
        try:
            data = os.read(self._reader, 65536)
        except BlockingIOError:
            return
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            try:
                queue = json.loads(line)
            except ValueError:
                continue
            if isinstance(queue, str):
                hear(queue)

    def close(self) -> None:
        self._close_writer()
        if self._reader is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._reader)
            except RuntimeError:
                pass
            os.close(self._reader)
            self._reader = None

"""The job store: one SQLite file holding the read cursor and one job per (token, generation).

Every stage moves a job forward in one transaction, so a crash at any point
resumes where it stopped: an event is read once (the cursor moves in the same
transaction as the jobs it created), and a render that was already committed
is never committed again.

Job states, in order:
    pending    the event is known; nothing rendered yet
    rendered   image and metadata written to the artefact folder, CIDs computed locally
    pinned     both pinned on IPFS, the node's CIDs checked against ours
    sent       the commit transaction is out (its hash and nonce are kept)
    committed  the commit's receipt is in
    covered    pinned, and a newer generation of the token (covered_by) was committed in
               its place: one commit sends only the newest ready generation of a token, and
               the generations it skips stay reachable through the parent links
    superseded a newer generation was committed first; this one stays pinned (and is its
               child's parent) but can no longer go on-chain
    failed     a permanent error (the reason is in last_error)

A token has at most one commit transaction in flight: its next commit is chosen only once
the previous one settled, so generations reach the chain in increasing order.

Durability: SQLite's write-ahead log with `synchronous=NORMAL`, so a transaction survives the
daemon's own crash (kill -9) as soon as it commits, without an fsync each. A power cut may
roll back the last few transactions, which every stage redoes: events are read again, renders
and pins are idempotent (content addressing), and settlement comes from the chain. The one
write that must outlive a power cut, because it records a side effect outside the store, is
the commit's nonce marked "sent" before its transaction leaves: that transaction is
`durable` (fsynced, with everything before it).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .chain import CanvasEvent
from .errors import StoreError
from .pipeline.clock import NoClock

SCHEMA_VERSION = 2

STATES = ("pending", "rendered", "pinned", "sent", "committed", "covered", "superseded", "failed")
#: States in which a job's image and metadata exist on disk (its children may render).
RENDERED_STATES = ("rendered", "pinned", "sent", "committed", "covered", "superseded")
#: States after which the job never goes on-chain again.
SETTLED_STATES = ("committed", "covered", "superseded")

#: Columns added after schema 1, with their types: an old store gains them when opened.
_ADDED_COLUMNS = {"age_cid": "TEXT", "covered_by": "INTEGER"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    token_id INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    event TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    image_path TEXT,
    metadata_path TEXT,
    image_cid TEXT,
    metadata_cid TEXT,
    age_cid TEXT,
    changed_pixel_fraction REAL,
    commit_tx TEXT,
    commit_nonce INTEGER,
    commit_max_fee INTEGER,
    commit_priority_fee INTEGER,
    commit_sent_at REAL,
    commit_block INTEGER,
    covered_by INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (token_id, generation)
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, token_id, generation);
-- ready_to_render walks the pending jobs oldest event first and stops at its limit, instead of
-- sorting every pending job of a backlog on each pass (2.4 -> 0.06 ms with 1,100 pending).
CREATE INDEX IF NOT EXISTS jobs_by_state_block ON jobs (state, block_number, token_id, generation);
"""


@dataclass(frozen=True)
class Job:
    token_id: int
    generation: int
    kind: str
    state: str
    event: CanvasEvent
    block_number: int
    image_path: str | None
    metadata_path: str | None
    image_cid: str | None
    metadata_cid: str | None
    age_cid: str | None
    changed_pixel_fraction: float | None
    commit_tx: str | None
    commit_nonce: int | None
    commit_max_fee: int | None
    commit_priority_fee: int | None
    commit_sent_at: float | None
    commit_block: int | None
    covered_by: int | None
    attempts: int
    last_error: str | None

    @property
    def key(self) -> tuple[int, int]:
        return (self.token_id, self.generation)


def _marks(values) -> str:
    return ", ".join("?" * len(values))


#: Pending jobs whose parent generation is rendered (a mint needs none), oldest event first
#: (the index jobs_by_state_block gives that order: no sort of the whole backlog).
_READY_TO_RENDER = (
    "SELECT j.* FROM jobs j LEFT JOIN jobs p ON p.token_id = j.token_id AND p.generation = j.generation - 1 "
    f"WHERE j.state = 'pending' AND (j.generation = 0 OR p.state IN ({_marks(RENDERED_STATES)})) "
    "ORDER BY j.block_number, j.token_id, j.generation LIMIT ?")


def _job(row: sqlite3.Row) -> Job:
    values = dict(row)
    values.pop("updated_at")
    values["event"] = CanvasEvent.from_json(values["event"])
    return Job(**values)


class JobStore:
    def __init__(self, path: Path, chain_id: int, canvas: str, start_block: int = 0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        #: Where CPU time spent in the store is counted (renderer.pipeline.clock; a benchmark sets it).
        self.clock = NoClock()
        #: Transactions this connection committed: with PRAGMA data_version (other connections'
        #: commits), a stage can tell that nothing changed since it last found no work.
        self.changes = 0
        self._depth = 0
        try:
            # One thread at a time uses a store, but not always the one that opened it (bench, tests).
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the job store {self.path} is unreadable ({exc}); move it aside and restart: "
                             "the daemon re-reads the chain from the start block and re-derives every job") from None
        self._claim(chain_id, canvas, start_block)

    def _claim(self, chain_id: int, canvas: str, start_block: int) -> None:
        """Bind the store to one chain and canvas, so it can never mix two deployments."""
        expected = {"schema": str(SCHEMA_VERSION), "chain_id": str(chain_id), "canvas": canvas.lower()}
        with self.transaction():
            found = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
            if found.get("schema") == "1":
                self._migrate_from_1()
                found["schema"] = str(SCHEMA_VERSION)
            for key, value in expected.items():
                if key in found and found[key] != value:
                    raise StoreError(f"the job store {self.path} belongs to {key} {found[key]}, not {value}: "
                                     "use another --out folder for another chain or canvas")
                self.db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (key, value))
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('next_block', ?)", (str(start_block),))
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('start_block', ?)", (str(start_block),))

    def _migrate_from_1(self) -> None:
        """Schema 1 lacked the age layer's CID and coalescing: add both columns, nothing else moves."""
        present = {row[1] for row in self.db.execute("PRAGMA table_info(jobs)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in present:
                self.db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
        self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))

    @contextmanager
    def transaction(self, durable: bool = False):
        """One write transaction; one opened inside another is part of it (a stage groups a pass's
        writes in one). `durable`: fsynced on commit (see the module's Durability)."""
        if self._depth:
            if durable and not self._durable:
                raise StoreError("a durable transaction cannot be part of a transaction that is not")
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        with self.clock.measure("store"):
            if durable:
                self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("BEGIN IMMEDIATE")
            self._depth, self._durable = 1, durable
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
                self.changes += 1
            finally:
                self._depth = 0
                if durable:
                    self.db.execute("PRAGMA synchronous=NORMAL")

    def version(self) -> tuple[int, int]:
        """Changes whenever anything was written to the store, by this connection or another."""
        return self.changes, self.db.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------- cursor

    @property
    def start_block(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key = 'start_block'").fetchone()[0])

    @property
    def next_block(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key = 'next_block'").fetchone()[0])

    def ingest(self, events: list[CanvasEvent], to_block: int, to_block_hash: str) -> int:
        """Record the jobs of blocks up to `to_block` and move the cursor past it, atomically."""
        created = 0
        now = time.time()
        with self.transaction():
            for event in events:
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO jobs (token_id, generation, kind, event, block_number, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (event.token_id, event.generation, event.kind, event.to_json(), event.block_number, now))
                created += cursor.rowcount
                self.db.execute("INSERT OR REPLACE INTO blocks VALUES (?, ?)", (event.block_number, event.block_hash))
            self.db.execute("INSERT OR REPLACE INTO blocks VALUES (?, ?)", (to_block, to_block_hash))
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'next_block'", (str(to_block + 1),))
        return created

    def last_block(self) -> tuple[int, str] | None:
        """The newest block the cursor has passed, with the hash it had then."""
        row = self.db.execute("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def blocks_before(self, number: int) -> Iterator[tuple[int, str]]:
        """Recorded (number, hash) pairs below `number`, newest first, read lazily: the reorg
        check (renderer.pipeline.reader) stops at the first one still canonical."""
        rows = self.db.execute("SELECT number, hash FROM blocks WHERE number < ? ORDER BY number DESC", (number,))
        return ((r[0], r[1]) for r in rows)

    def rewind(self, ancestor: int) -> list[Job]:
        """Forget every block after `ancestor` and the jobs their events made; returns those jobs.

        Re-reading those blocks re-derives the jobs of the events that survived the reorg;
        a commit that did land is then found on-chain again (`renderer.pipeline.committer.Committer.settle_from_chain`).
        """
        with self.transaction():
            dropped = [_job(r) for r in self.db.execute("SELECT * FROM jobs WHERE block_number > ?", (ancestor,))]
            self.db.execute("DELETE FROM jobs WHERE block_number > ?", (ancestor,))
            self.db.execute("DELETE FROM blocks WHERE number > ?", (ancestor,))
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'next_block'", (str(ancestor + 1),))
        return dropped

    # ------------------------------------------------------------------ jobs

    def job(self, token_id: int, generation: int) -> Job | None:
        with self.clock.measure("store"):
            row = self.db.execute("SELECT * FROM jobs WHERE token_id = ? AND generation = ?",
                                  (token_id, generation)).fetchone()
            return _job(row) if row else None

    def jobs(self, state: str | None = None, token_id: int | None = None) -> list[Job]:
        query, params = "SELECT * FROM jobs WHERE 1=1", []
        if state:
            query += " AND state = ?"
            params.append(state)
        if token_id is not None:
            query += " AND token_id = ?"
            params.append(token_id)
        return [_job(r) for r in self.db.execute(query + " ORDER BY token_id, generation", params)]

    def ready_to_render(self, limit: int, busy: frozenset[tuple[int, int]] | set = frozenset()) -> list[Job]:
        """Up to `limit` pending jobs whose parent generation is rendered (a mint needs none),
        oldest event first, leaving out the keys in `busy` (renders already under way)."""
        with self.clock.measure("store"):
            rows = self.db.execute(_READY_TO_RENDER, (*RENDERED_STATES, limit + len(busy))).fetchall()
            return [job for job in map(_job, rows) if job.key not in busy][:limit]

    def ready_to_commit(self, tokens: int) -> list[list[Job]]:
        """For up to `tokens` tokens, the pinned generations that may go on-chain now, oldest first:
        the unbroken run of pinned jobs right after the token's last settled generation. The last
        of each run is the one to commit; the ones before it are covered by it. A token with a
        commit out (a job "sent") has no run, nor one whose oldest open job is pending or failed."""
        with self.clock.measure("store"):
            rows = self._ready_to_commit_rows()
        runs: dict[int, list[Job]] = {}
        for job in map(_job, rows):
            runs.setdefault(job.token_id, []).append(job)
        # Tokens whose oldest waiting event is oldest go first.
        return sorted(runs.values(), key=lambda run: (run[0].block_number, run[0].token_id))[:tokens]

    def _ready_to_commit_rows(self) -> list[sqlite3.Row]:
        # Only tokens with a pinned job can have a run: found through the state index, so the
        # cost follows the backlog, not the collection's history.
        return self.db.execute(
            "WITH candidates AS (SELECT DISTINCT token_id FROM jobs WHERE state = 'pinned'), "
            "     open AS (SELECT j.token_id, MIN(j.generation) AS low FROM candidates c "
            "              JOIN jobs j ON j.token_id = c.token_id "
            f"             WHERE j.state NOT IN ({_marks(SETTLED_STATES)}) GROUP BY j.token_id) "
            "SELECT j.* FROM jobs j JOIN open o ON o.token_id = j.token_id "
            "WHERE j.state = 'pinned' AND j.generation >= o.low "
            "  AND (o.low = 0 OR EXISTS (SELECT 1 FROM jobs p WHERE p.token_id = o.token_id "
            "                            AND p.generation = o.low - 1)) "
            "  AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.token_id = j.token_id AND k.generation >= o.low "
            "                  AND k.generation < j.generation AND k.state != 'pinned') "
            "  AND NOT EXISTS (SELECT 1 FROM jobs s WHERE s.token_id = j.token_id AND s.state = 'sent') "
            "ORDER BY j.token_id, j.generation", SETTLED_STATES).fetchall()

    def pinned_tokens(self) -> int:
        """How many tokens have a pinned job: an upper bound on the tokens a commit could carry now."""
        with self.clock.measure("store"):
            return self.db.execute("SELECT COUNT(DISTINCT token_id) FROM jobs WHERE state = 'pinned'").fetchone()[0]

    def work_coming_for_other_tokens(self) -> bool:
        """Whether a token with nothing pinned or sent has a job on its way to being pinned: rendered,
        or pending with its parent rendered (so it is renderable now or out on a worker). Such a
        token could still join a commit that is not full yet; a token blocked behind a failed
        parent, or one already in the batch, could not."""
        with self.clock.measure("store"):
            return self.db.execute(
                "SELECT 1 FROM jobs j WHERE j.state IN ('pending', 'rendered') "
                "AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.state IN ('pinned', 'sent') AND k.token_id = j.token_id) "
                "AND (j.state = 'rendered' OR j.generation = 0 OR EXISTS (SELECT 1 FROM jobs p WHERE "
                "p.token_id = j.token_id AND p.generation = j.generation - 1 "
                f"AND p.state IN ({_marks(RENDERED_STATES)}))) LIMIT 1", RENDERED_STATES).fetchone() is not None

    def max_sent_nonce(self) -> int | None:
        """The highest nonce of a commit transaction still waiting to settle."""
        return self.db.execute("SELECT MAX(commit_nonce) FROM jobs WHERE state = 'sent'").fetchone()[0]

    def tokens(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT token_id FROM jobs ORDER BY token_id")]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        counts.update(dict(self.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()))
        return counts

    def advance(self, job: Job, state: str, **values) -> None:
        """Move `job` to `state`, recording `values`; only from the state it was read in."""
        if state not in STATES:
            raise ValueError(f"unknown job state {state!r}")
        with self.transaction():
            self._move(job, state, values)

    def _move(self, job: Job, state: str, values: dict) -> None:
        columns = ", ".join(f"{name} = ?" for name in values)
        assignments = f"state = ?, updated_at = ?{', ' + columns if columns else ''}"
        cursor = self.db.execute(
            f"UPDATE jobs SET {assignments} WHERE token_id = ? AND generation = ? AND state = ?",
            (state, time.time(), *values.values(), job.token_id, job.generation, job.state))
        if cursor.rowcount != 1:
            raise StoreError(f"job {job.key} was not in state {job.state!r} any more")

    def settle(self, job: Job, state: str, **values) -> int:
        """Settle `job` (committed, superseded or failed on the chain's word) and, in the same
        transaction, every pinned generation of its token below it, which can now never go on-chain:
        covered by it when it was committed, superseded otherwise. Returns how many were covered."""
        if state not in ("committed", "superseded", "failed"):
            raise ValueError(f"{state!r} does not settle a job")
        below, extra = ("covered", {"covered_by": job.generation}) if state == "committed" else \
            ("superseded", {"last_error": f"generation {job.generation} settled as {state} first"})
        with self.transaction():
            self._move(job, state, values)
            cursor = self.db.execute(
                f"UPDATE jobs SET state = ?, updated_at = ?, {', '.join(f'{k} = ?' for k in extra)} "
                "WHERE token_id = ? AND generation < ? AND state = 'pinned'",
                (below, time.time(), *extra.values(), job.token_id, job.generation))
        return cursor.rowcount

    def note(self, job: Job, **values) -> None:
        """Record `values` on a job without moving it."""
        columns = ", ".join(f"{name} = ?" for name in values)
        with self.transaction():
            self.db.execute(f"UPDATE jobs SET {columns}, updated_at = ? WHERE token_id = ? AND generation = ?",
                            (*values.values(), time.time(), job.token_id, job.generation))

    def record_error(self, job: Job, message: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE jobs SET attempts = attempts + 1, last_error = ?, updated_at = ? "
                            "WHERE token_id = ? AND generation = ?",
                            (message, time.time(), job.token_id, job.generation))

    def pending_transactions(self) -> list[dict]:
        """Commit transactions sent and not yet settled, one entry per transaction."""
        rows = self.db.execute(
            "SELECT commit_tx, commit_nonce, commit_max_fee, MIN(commit_sent_at), COUNT(*) FROM jobs "
            "WHERE state = 'sent' GROUP BY commit_nonce, commit_tx ORDER BY commit_nonce").fetchall()
        return [{"tx": r[0], "nonce": r[1], "max_fee_per_gas": r[2], "sent_at": r[3], "renders": r[4]} for r in rows]

    def last_error(self) -> str | None:
        row = self.db.execute("SELECT last_error FROM jobs WHERE last_error IS NOT NULL "
                              "ORDER BY updated_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

"""`chaos watch`: a watchtower that verifies every commit as it lands.

It follows the canvas's commit logs (RenderCommitted, and BatchRenderCommitted whose records name
the tokens of a `commitBatch`) through the same reader as the daemon
(`renderer.pipeline.reader.ChainReader`: confirmed block ranges, reorg check), verifies the
generations each commit covers (the commit's own and those reached through its parent links, see
`renderer.provenance`) with `renderer.verify`, and writes one JSON line per verdict. On a forgery it
runs the operator's hook (`--on-forgery CMD`) with the verdict on stdin and in CHAOS_* variables.

Its cursor lives in a small SQLite file of its own (`WatchState`): each range's end and end hash are
recorded after its verdicts are written, so a restart resumes after the last range it finished
(a crash in the middle of a range verifies that range again: a verdict or hook can repeat, never
be skipped). A reorg rewinds the cursor to the newest recorded block that is still canonical and
the commits above it are verified again as they land on the new branch. A generation IPFS cannot
serve is reported `unverifiable` and tried again on every poll (for up to an hour); once it can be
checked its verdict is written again, and a forgery then runs the hook. An RPC outage is waited out.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import requests
from web3 import Web3

from .chain import Canvas
from .commit_records import unpack_records
from .errors import ChainUnavailable, ChaosError
from .pipeline.reader import ChainReader, LogRange
from .provenance import load_history
from .verify import FORGED, PENDING, UNVERIFIABLE, GenerationVerdict, Verifier

log = logging.getLogger("chaos.watch")

#: Block hashes kept for the reorg check: deeper reorgs than this rewind to the oldest one kept.
KEPT_BLOCKS = 512
#: Seconds a hook may run before it is stopped (it should hand off, not work).
HOOK_TIMEOUT = 60
#: How long an unverifiable generation (IPFS cannot serve it) is tried again before the watch gives up on it.
RETRY_FOR = 3600.0
#: What an unreachable RPC node raises, through web3's HTTP provider: the watch waits it out.
RPC_OUTAGES = (ChainUnavailable, requests.exceptions.ConnectionError, requests.exceptions.Timeout)


class WatchState:
    """The watchtower's cursor: the ends (number, hash) of the ranges it finished, in one SQLite file.
    Implements `renderer.pipeline.reader.Cursor`."""

    def __init__(self, path: Path, chain_id: int, canvas: str, start_block: int):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);"
            # Commits whose generations could not be checked yet (IPFS away): tried again on every poll.
            "CREATE TABLE IF NOT EXISTS retries (token_id INTEGER NOT NULL, commit_tx TEXT NOT NULL, "
            "generations TEXT NOT NULL, first_seen REAL NOT NULL, PRIMARY KEY (token_id, commit_tx));")
        claimed = dict(self.db.execute("SELECT key, value FROM meta"))
        mine = {"chain_id": str(chain_id), "canvas": canvas}
        if claimed and {k: claimed.get(k) for k in mine} != mine:
            raise ChaosError(f"{path} is the watch state of canvas {claimed.get('canvas')} on chain "
                             f"{claimed.get('chain_id')}, not {canvas} on chain {chain_id}: give another --state")
        if not claimed:
            with self.db:
                self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                                    [*mine.items(), ("start_block", str(start_block))])
        self.start_block = int(dict(self.db.execute("SELECT key, value FROM meta"))["start_block"])

    @property
    def next_block(self) -> int:
        (last,) = self.db.execute("SELECT MAX(number) FROM blocks").fetchone()
        return self.start_block if last is None else last + 1

    def last_block(self) -> tuple[int, str] | None:
        return self.db.execute("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1").fetchone()

    def blocks_before(self, number: int):
        return self.db.execute("SELECT number, hash FROM blocks WHERE number < ? ORDER BY number DESC", (number,))

    def record(self, end: int, end_hash: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO blocks VALUES (?, ?)", (end, end_hash))
            self.db.execute("DELETE FROM blocks WHERE number NOT IN "
                            "(SELECT number FROM blocks ORDER BY number DESC LIMIT ?)", (KEPT_BLOCKS,))

    def add_retry(self, token_id: int, commit_tx: str, generations: list[int]) -> None:
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO retries VALUES (?, ?, ?, ?)",
                            (token_id, commit_tx, ",".join(map(str, generations)), time.time()))

    def retries(self) -> list[tuple[int, str, list[int], float]]:
        return [(token, tx, [int(g) for g in generations.split(",")], first_seen) for token, tx, generations, first_seen
                in self.db.execute("SELECT token_id, commit_tx, generations, first_seen FROM retries")]

    def drop_retry(self, token_id: int, commit_tx: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM retries WHERE token_id = ? AND commit_tx = ?", (token_id, commit_tx))

    def rewind(self, ancestor: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM blocks WHERE number > ?", (ancestor,))
            if ancestor < self.start_block - 1:
                self.db.execute("UPDATE meta SET value = ? WHERE key = 'start_block'", (str(ancestor + 1),))
                self.start_block = ancestor + 1

    def close(self) -> None:
        self.db.close()


def hook_environment(verdict: dict) -> dict[str, str]:
    """The CHAOS_* variables a hook sees (the whole verdict is also on its stdin, as one JSON line)."""
    return {"CHAOS_STATUS": verdict["status"], "CHAOS_TOKEN_ID": str(verdict["token_id"]),
            "CHAOS_GENERATION": str(verdict["generation"]), "CHAOS_COMMIT_TX": verdict["commit_tx"] or "",
            "CHAOS_COMMIT_BLOCK": str(verdict.get("commit_block") or ""),
            "CHAOS_METADATA_CID": verdict["metadata_cid"] or "",
            "CHAOS_FAILED_CHECKS": ",".join(sorted({f["check"] for f in verdict["failed"]})),
            "CHAOS_VERDICT": json.dumps(verdict, sort_keys=True)}


def run_hook(command: str, verdict: dict) -> int:
    """Run the operator's hook through the shell; its failure is logged, never fatal to the watch."""
    line = json.dumps(verdict, sort_keys=True) + "\n"
    try:
        done = subprocess.run(command, shell=True, input=line, text=True, timeout=HOOK_TIMEOUT,
                              env={**os.environ, **hook_environment(verdict)})
    except subprocess.TimeoutExpired:
        log.error("the --on-forgery hook ran over %d s and was stopped", HOOK_TIMEOUT)
        return -1
    if done.returncode:
        log.error("the --on-forgery hook exited with %d", done.returncode)
    return done.returncode


class Watchtower:
    """Verifies the commits of one canvas as they land; `poll` does one pass."""

    def __init__(self, canvas: Canvas, ipfs, state: WatchState, *, output: TextIO = sys.stdout,
                 on_forgery: str | None = None, confirmations: int = 0, span: int = 2_000,
                 from_block: int = 0, hook: Callable[[str, dict], int] = run_hook):
        self.canvas = canvas
        self.ipfs = ipfs
        self.state = state
        self.output = output
        self.on_forgery = on_forgery
        self.from_block = from_block  # where the token histories start (the deployment block)
        self.hook = hook
        self.committed = canvas.contract.events.RenderCommitted()
        self.batch_committed = canvas.contract.events.BatchRenderCommitted()
        # One topic position, two values: either event.
        self.reader = ChainReader(canvas.w3, address=canvas.address,
                                  topics=[[self.committed.topic, self.batch_committed.topic]],
                                  confirmations=confirmations, span=span, start_block=state.start_block)

    def _emit(self, line: dict) -> None:
        self.output.write(json.dumps(line, sort_keys=True) + "\n")
        self.output.flush()

    def poll(self) -> list[dict]:
        """Verify again what IPFS could not serve before, check for a reorg, then verify every confirmed
        range not yet read; the verdicts written."""
        verdicts = self._retry()
        ancestor = self.reader.reorged_to(self.state)
        if ancestor is not None:
            last = self.state.last_block()
            self.state.rewind(ancestor)
            log.warning("reorg: block %d was replaced; rewound to block %d", last[0], ancestor)
            self._emit({"event": "reorg", "replaced_block": last[0], "rewound_to": ancestor, "time": time.time()})
        for log_range in self.reader.ranges(self.state):
            verdicts.extend(self._verify_range(log_range))
            self.state.record(log_range.end, log_range.end_hash)
        return verdicts

    def _verify_range(self, log_range: LogRange) -> list[dict]:
        # Only the token ids are read from the logs; the commits themselves come from Canvas.commits,
        # the one place that decodes them.
        tokens = dict.fromkeys(token_id for log in log_range.logs for token_id in self._committed_tokens(log))
        lines = []
        for token_id in tokens:
            history = load_history(self.canvas, self.ipfs, token_id, self.from_block)
            ordered = sorted(history.commits, key=lambda c: c["generation"])
            previous = -1
            for commit in ordered:
                if log_range.start <= commit["block_number"] <= log_range.end:
                    covered = set(range(previous + 1, commit["generation"] + 1))
                    verdicts = self._verdicts(history, covered)
                    lines.extend(self._report(verdict, commit) for verdict in verdicts)
                    unverifiable = [v.generation for v in verdicts if v.status == UNVERIFIABLE]
                    if unverifiable:
                        self.state.add_retry(token_id, commit["tx_hash"], unverifiable)
                previous = commit["generation"]
        return lines

    def _committed_tokens(self, log) -> list[int]:
        """The tokens a commit log names: RenderCommitted's first indexed topic, or the token ids of
        a BatchRenderCommitted's records."""
        if Web3.to_hex(log["topics"][0]) == self.batch_committed.topic:
            records = self.batch_committed.process_log(log).args.records
            return [record.token_id for record in unpack_records(records)]
        return [int.from_bytes(bytes(log["topics"][1]), "big")]

    def _verdicts(self, history, generations: set[int]) -> list[GenerationVerdict]:
        return [v for v in Verifier(self.canvas, history).verdicts(rerender=True, generations=generations)
                if v.status != PENDING]

    def _retry(self) -> list[dict]:
        """Verify again the generations IPFS could not serve; report each once it can be checked."""
        lines = []
        for token_id, commit_tx, generations, first_seen in self.state.retries():
            history = load_history(self.canvas, self.ipfs, token_id, self.from_block)
            commit = next((c for c in history.commits if c["tx_hash"] == commit_tx), None)
            if commit is None:  # dropped by a reorg: its replacement is verified as it lands
                self.state.drop_retry(token_id, commit_tx)
                continue
            verdicts = self._verdicts(history, set(generations))
            if all(v.status != UNVERIFIABLE for v in verdicts):
                lines.extend(self._report(verdict, commit) for verdict in verdicts)
                self.state.drop_retry(token_id, commit_tx)
            elif time.time() - first_seen > RETRY_FOR:
                log.error("token %d: generation(s) %s of commit %s still cannot be verified after %d s; giving up",
                          token_id, generations, commit_tx, RETRY_FOR)
                self.state.drop_retry(token_id, commit_tx)
        return lines

    def _report(self, verdict: GenerationVerdict, commit: dict) -> dict:
        line = {**verdict.to_dict(), "commit_block": commit["block_number"], "time": time.time()}
        line["commit_tx"] = line["commit_tx"] or commit["tx_hash"]
        self._emit(line)
        if verdict.status == FORGED:
            log.error("FORGED: token %d generation %d (%s) via commit %s", verdict.token_id, verdict.generation,
                      ", ".join(sorted({c.name for c in verdict.failed})), line["commit_tx"])
            if self.on_forgery:
                self.hook(self.on_forgery, line)
        return line

    def run(self, poll_interval: float = 2.0, once: bool = False) -> None:
        away = False
        while True:
            try:
                self.poll()
                if away:
                    log.info("the RPC node answers again")
                away = False
            except RPC_OUTAGES as exc:
                if once:
                    raise ChainUnavailable(f"the RPC node did not answer: {exc}") from None
                if not away:
                    log.warning("the RPC node does not answer (%s); waiting for it", type(exc).__name__)
                away = True
            if once:
                return
            time.sleep(poll_interval)


def run_watch(settings, *, state_path: Path, output_path: Path | None, on_forgery: str | None,
              once: bool = False) -> None:
    """`chaos watch`: the watchtower over the configured canvas and IPFS, until interrupted (or one pass)."""
    from .chain import connect
    from .ipfs import Replicas

    if settings.confirmations < 0:
        raise ChaosError(f"--confirmations must be 0 or more, not {settings.confirmations}")
    canvas = Canvas(connect(settings.rpc_url, settings.rpc_timeout, settings.chain_id), settings.canvas)
    state = WatchState(state_path, canvas.chain_id, canvas.address, settings.start_block)
    ipfs = Replicas(settings.ipfs_api, settings.ipfs_timeout)
    output = open(output_path, "a", encoding="utf-8") if output_path else sys.stdout
    try:
        log.info("watching canvas %s (chain %d) from block %d, %d confirmation(s); state in %s",
                 canvas.address, canvas.chain_id, state.next_block, settings.confirmations, state_path)
        Watchtower(canvas, ipfs, state, output=output, on_forgery=on_forgery, confirmations=settings.confirmations,
                   span=settings.log_range, from_block=settings.start_block).run(settings.poll_interval, once)
    finally:
        if output_path:
            output.close()
        ipfs.close()
        state.close()

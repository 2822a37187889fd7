"""The renderer daemon: read -> queue -> render -> pin -> commit, in a loop.

Each stage takes jobs in one state and leaves them in the next (see
`renderer.store`), so the daemon can stop anywhere and resume.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3.exceptions import TimeExhausted

from . import transactions
from .backends import Backend
from .chain import Canvas
from .errors import ChaosError, CidMismatch, SetupError
from .ipfs import Pinner
from .render import Origin, Parent, Rendered, render
from .store import Job, JobStore

log = logging.getLogger("chaos.daemon")

#: States in which a job's image and metadata exist on disk.
RENDERED_STATES = ("rendered", "pinned", "sent", "committed", "superseded")
#: States after which the next generation may be committed.
SETTLED_STATES = ("committed", "superseded")


@dataclass
class Stages:
    """What one pass of the loop did."""

    read: int = 0
    rendered: int = 0
    pinned: int = 0
    committed: int = 0

    @property
    def busy(self) -> bool:
        return any((self.read, self.rendered, self.pinned, self.committed))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


class Daemon:
    def __init__(self, canvas: Canvas, store: JobStore, backend: Backend, pinner: Pinner,
                 account: LocalAccount, *, artefact_dir: Path, image_size: int = 256, confirmations: int = 0,
                 log_range: int = 2_000, batch_size: int = 25):
        self.canvas = canvas
        self.store = store
        self.backend = backend
        self.pinner = pinner
        self.account = account
        self.artefact_dir = Path(artefact_dir)
        self.image_size = image_size
        self.confirmations = confirmations
        self.log_range = log_range
        self.batch_size = batch_size

    def check_role(self) -> None:
        if not self.canvas.has_renderer_role(self.account.address):
            raise SetupError(f"{self.account.address} lacks RENDERER_ROLE on {self.canvas.address}: "
                             "the canvas admin must grantRole(RENDERER_ROLE, this address)")

    # ------------------------------------------------------------------ read

    def read_chain(self) -> int:
        """Queue the jobs of every new block that has the configured confirmations."""
        safe_head = self.canvas.head() - self.confirmations
        created = 0
        while self.store.next_block <= safe_head:
            start = self.store.next_block
            end = min(start + self.log_range - 1, safe_head)
            events = self.canvas.events(start, end)
            created += self.store.ingest(events, end, self.canvas.block_hash(end))
            if events:
                log.info("read blocks %d-%d: %d event(s)", start, end, len(events))
        return created

    # ---------------------------------------------------------------- render

    def _paths(self, job: Job) -> tuple[Path, Path]:
        folder = self.artefact_dir / f"token-{job.token_id}"
        return folder / f"gen-{job.generation}.png", folder / f"gen-{job.generation}.json"

    def _renderable(self) -> list[tuple[Job, Job | None]]:
        """Pending jobs whose parent generation is rendered, with that parent."""
        ready = []
        for job in self.store.jobs("pending"):
            parent = None if job.generation == 0 else self.store.job(job.token_id, job.generation - 1)
            if job.generation == 0 or (parent and parent.state in RENDERED_STATES):
                ready.append((job, parent))
        return ready

    def render_ready(self) -> int:
        done = 0
        for job, parent_job in self._renderable():
            mint = job if job.generation == 0 else self.store.job(job.token_id, 0)
            if mint is None:
                self.store.advance(job, "failed", last_error="the token's Minted event was never read: "
                                   "restart the daemon with --start-block at or before the deployment block")
                continue
            parent = None
            if parent_job:
                parent = Parent(Path(parent_job.image_path).read_bytes(), parent_job.metadata_cid)
            started = time.perf_counter()
            rendered = render(job.event, Origin.from_mint(mint.event), parent, self.backend,
                              chain_id=self.canvas.chain_id, canvas=self.canvas.address, size=self.image_size)
            image_path, metadata_path = self._paths(job)
            _write_atomically(image_path, rendered.image_png)
            _write_atomically(metadata_path, rendered.metadata)
            self.store.advance(job, "rendered", image_path=str(image_path), metadata_path=str(metadata_path),
                               image_cid=rendered.image_cid, metadata_cid=rendered.metadata_cid,
                               changed_pixel_fraction=rendered.changed_pixel_fraction)
            log.info("rendered token %d generation %d (%s) in %.2f s: metadata %s", job.token_id,
                     job.generation, job.kind, time.perf_counter() - started, rendered.metadata_cid)
            done += 1
        return done

    # ------------------------------------------------------------------- pin

    def pin_ready(self) -> int:
        done = 0
        for job in self.store.jobs("rendered"):
            try:
                for path, cid in ((job.image_path, job.image_cid), (job.metadata_path, job.metadata_cid)):
                    pinned = self.pinner.pin(Path(path).read_bytes())
                    if pinned != cid:
                        raise CidMismatch(f"{path} changed on disk since it was rendered ({pinned} != {cid})")
            except CidMismatch as exc:
                self.store.record_error(job, str(exc))
                log.error("token %d generation %d: %s", job.token_id, job.generation, exc)
                continue
            self.store.advance(job, "pinned")
            log.info("pinned token %d generation %d: image %s", job.token_id, job.generation, job.image_cid)
            done += 1
        return done

    # ---------------------------------------------------------------- commit

    def _settle_from_chain(self, job: Job) -> bool:
        """Settle a job the chain already decided (a lost receipt, a rebuilt store); False if still open."""
        exists, generation, cid = self.canvas.last_commit(job.token_id)
        if not exists or generation < job.generation:
            return False
        if generation > job.generation:
            cid = next((c["cid"] for c in self.canvas.commits(job.token_id, from_block=job.block_number)
                        if c["generation"] == job.generation), None)
        if cid is None:
            self.store.advance(job, "superseded", last_error=f"generation {generation} was committed first")
        elif cid == job.metadata_cid:
            self.store.advance(job, "committed")
        else:
            self.store.advance(job, "failed", last_error=f"the chain holds {cid} for this generation, "
                               f"not our {job.metadata_cid}: another renderer committed it")
        return True

    def _reconcile_sent(self) -> int:
        """Settle commits sent before a crash or a lost receipt: mined, pending, or to be sent again."""
        done = 0
        address = self.account.address
        for job in self.store.jobs("sent"):
            if self._settle_from_chain(job):
                done += 1
            elif (self.canvas.w3.eth.get_transaction_count(address, "pending") <= job.commit_nonce
                  or self.canvas.w3.eth.get_transaction_count(address, "latest") > job.commit_nonce):
                # The transaction never reached the node, or its nonce was mined without
                # this commit (reverted or replaced): send it again.
                self.store.advance(job, "pinned", commit_tx=None, commit_nonce=None)
            # else: still waiting in the mempool.
        return done

    def _committable(self) -> tuple[list[Job], int]:
        """Pinned jobs whose previous generation is settled or comes earlier in this batch,
        and how many pinned jobs turned out to be settled on-chain already."""
        batch: list[Job] = []
        in_batch: set[tuple[int, int]] = set()
        settled = 0
        for job in self.store.jobs("pinned"):
            if len(batch) == self.batch_size:
                break
            previous = (job.token_id, job.generation - 1)
            if job.generation > 0 and previous not in in_batch:
                parent = self.store.job(*previous)
                if parent is None or parent.state not in SETTLED_STATES:
                    continue
            if self._settle_from_chain(job):
                settled += 1
                continue
            batch.append(job)
            in_batch.add(job.key)
        return batch, settled

    def commit_ready(self) -> int:
        done = self._reconcile_sent()
        batch, settled = self._committable()
        done += settled
        if not batch:
            return done
        w3 = self.canvas.w3
        commits = [(job.token_id, job.generation, job.metadata_cid) for job in batch]
        call = self.canvas.contract.functions.commitBatch(commits)
        try:
            tx = transactions.build(w3, self.account, call)
        except transactions.TransactionFailed as exc:
            for job in batch:
                self.store.record_error(job, str(exc))
            log.error("commit of %d render(s) would fail: %s", len(batch), exc)
            return done
        for job in batch:
            self.store.advance(job, "sent", commit_nonce=tx["nonce"])
        tx_hash = transactions.send(w3, self.account, tx)
        for job in batch:
            self.store.note(job, commit_tx=tx_hash)
        try:
            receipt = transactions.wait(w3, tx_hash)
        except TimeExhausted:
            log.warning("no receipt yet for commit tx %s; will check again", tx_hash)
            return done
        for job in batch:
            self.store.advance(self.store.job(job.token_id, job.generation), "committed",
                               commit_block=receipt["blockNumber"])
        log.info("committed %d render(s) in block %d (tx %s, %d gas)", len(batch), receipt["blockNumber"],
                 tx_hash, receipt["gasUsed"])
        return done + len(batch)

    # ------------------------------------------------------------------ loop

    def step(self) -> Stages:
        return Stages(self.read_chain(), self.render_ready(), self.pin_ready(), self.commit_ready())

    def run(self, until: Callable[[], bool] | None = None, poll_interval: float = 2.0,
            timeout: float | None = None) -> None:
        """Loop until `until()` is true (forever when None); sleeps only when idle."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                busy = self.step().busy
            except ChaosError as exc:
                log.error("%s", exc)
                busy = False
            if until is not None and until():
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the daemon did not finish within {timeout:.0f} s")
            if not busy:
                time.sleep(poll_interval)


def open_daemon(settings, account: LocalAccount) -> Daemon:
    """Connect every stage from `settings` (a `renderer.config.Settings`), failing early and clearly."""
    from .backends import load_backend
    from .chain import connect

    w3 = connect(settings.rpc_url, settings.rpc_timeout)
    canvas = Canvas(w3, settings.canvas)
    pinner = Pinner(settings.ipfs_api, settings.ipfs_timeout)
    pinner.version()  # fail now, with a clear message, if IPFS is down
    store = JobStore(settings.db_path, canvas.chain_id, canvas.address, settings.start_block)
    daemon = Daemon(canvas, store, load_backend(settings.backend), pinner, account,
                    artefact_dir=settings.artefact_dir, image_size=settings.image_size,
                    confirmations=settings.confirmations, log_range=settings.log_range,
                    batch_size=settings.batch_size)
    daemon.check_role()
    return daemon

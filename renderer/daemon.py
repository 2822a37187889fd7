"""The renderer daemon: read -> queue -> render -> pin -> commit, in a loop.

Each stage takes jobs in one state and leaves them in the next (see
`renderer.store`), so the daemon can stop anywhere and resume.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import requests
from eth_account.signers.local import LocalAccount
from web3.exceptions import TimeExhausted, TransactionNotFound

from . import transactions
from .backends import Backend
from .chain import Canvas, CanvasEvent
from .colour import ColourInputs, read_colour_inputs
from .errors import ChainUnavailable, CidMismatch, IpfsUnavailable, SetupError
from .failpoints import failpoint
from .health import Health, backoff_delay
from .ipfs import Replicas
from .phoenix import PhoenixPolicy, render_with_phoenix
from .pipeline.reader import ChainReader
from .render import Origin, Parent
from .store import Job, JobStore
from .telemetry import AbsentTelemetry, TelemetrySource

log = logging.getLogger("chaos.daemon")

#: States in which a job's image and metadata exist on disk.
RENDERED_STATES = ("rendered", "pinned", "sent", "committed", "superseded")
#: States after which the next generation may be committed.
SETTLED_STATES = ("committed", "superseded")
#: What an unreachable RPC node raises, through web3's HTTP provider.
RPC_OUTAGES = (ChainUnavailable, requests.exceptions.ConnectionError, requests.exceptions.Timeout)
#: Tries of one render before its job is marked failed (its children then wait: they need it).
RENDER_ATTEMPTS = 3
#: A replacement transaction must raise both fees by at least 10% (geth, Anvil); take 12.5%.
FEE_BUMP_NUMERATOR, FEE_BUMP_DENOMINATOR = 9, 8


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
    def __init__(self, canvas: Canvas, store: JobStore, backend: Backend, pinner: Replicas,
                 account: LocalAccount, *, artefact_dir: Path, image_size: int = 256, confirmations: int = 0,
                 log_range: int = 2_000, batch_size: int = 25, receipt_timeout: float = 30.0,
                 stuck_after: float = 90.0, pools=None, telemetry: TelemetrySource | None = None,
                 phoenix: PhoenixPolicy = PhoenixPolicy()):
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
        self.receipt_timeout = receipt_timeout
        self.stuck_after = stuck_after
        #: The ColourPools web3 contract, or None for a canvas without pools.
        self.pools = pools
        self.telemetry = telemetry or AbsentTelemetry("no telemetry source configured")
        self.phoenix = phoenix
        self.health = Health(log)
        self.reader = ChainReader(canvas.w3, address=canvas.address, topics=canvas.event_topics(),
                                  confirmations=confirmations, span=log_range, start_block=store.start_block)

    def check_role(self) -> None:
        if not self.canvas.has_renderer_role(self.account.address):
            raise SetupError(f"{self.account.address} lacks RENDERER_ROLE on {self.canvas.address}: "
                             "the canvas admin must grantRole(RENDERER_ROLE, this address)")

    # ------------------------------------------------------------------ read

    def read_chain(self) -> int:
        """Queue the jobs of every new block that has the configured confirmations."""
        self._rewind_if_reorged()
        created = 0
        for chunk in self.reader.ranges(self.store):
            events = [self._with_colour(event) for event in self.canvas.decode_events(chunk.logs)]
            created += self.store.ingest(events, chunk.end, chunk.end_hash)
            failpoint("after-read")
            if events:
                log.info("read blocks %d-%d: %d event(s)", chunk.start, chunk.end, len(events))
        return created

    def _with_colour(self, event: CanvasEvent) -> CanvasEvent:
        """The event with what the pools said at its block: read now, while that state is recent
        (a node that is not an archive forgets old state), and kept with the job."""
        if self.pools is None:
            return event
        try:
            inputs = read_colour_inputs(self.pools, event.token_id, event.block_number)
        except RPC_OUTAGES:
            raise
        except Exception as exc:  # e.g. "missing trie node": the node pruned that block's state
            raise SetupError(f"the node cannot say what the colour pools held at block {event.block_number} "
                             f"({type(exc).__name__}: {exc}); point --rpc-url at an archive node, or one that still "
                             "keeps the state of the blocks being read: every render's colours come from them") from None
        return replace(event, colour=inputs.to_provenance())

    def _rewind_if_reorged(self) -> None:
        """If the newest block we read has another hash now, rewind to the last one that still matches."""
        ancestor = self.reader.reorged_to(self.store)
        if ancestor is None:
            return
        dropped = self.store.rewind(ancestor)
        log.warning("reorg: the blocks after %d were replaced; rewound to it, dropping %d job(s) to re-derive: %s",
                    ancestor, len(dropped), ", ".join(f"{j.token_id}/{j.generation}" for j in dropped),
                    extra={"event": "reorg", "ancestor": ancestor})

    # ---------------------------------------------------------------- render

    def _paths(self, job: Job) -> tuple[Path, Path]:
        folder = self.artefact_dir / f"token-{job.token_id}"
        return folder / f"gen-{job.generation}.png", folder / f"gen-{job.generation}.json"

    @staticmethod
    def age_path(image_path: str | Path) -> Path:
        """The age layer (renderer.memory) lives beside its image: gen-N.age next to gen-N.png."""
        return Path(image_path).with_suffix(".age")

    def _parent(self, parent_job: Job) -> Parent:
        age = self.age_path(parent_job.image_path)
        # A parent rendered before mutation memory existed has no layer: read as never mutated.
        return Parent(Path(parent_job.image_path).read_bytes(), parent_job.metadata_cid,
                      age.read_bytes() if age.exists() else None)

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
        # At most one batch per pass, so a backlog flows through pin and commit instead of
        # waiting for every render to finish first.
        for job, parent_job in self._renderable()[: self.batch_size]:
            mint = job if job.generation == 0 else self.store.job(job.token_id, 0)
            if mint is None:
                self.store.advance(job, "failed", last_error="the token's Minted event was never read: "
                                   "restart the daemon with --start-block at or before the deployment block")
                continue
            started = time.perf_counter()
            try:
                parent = self._parent(parent_job) if parent_job else None
                rendered = render_with_phoenix(
                    job.event, Origin.from_mint(mint.event), parent, self.backend, policy=self.phoenix,
                    telemetry=self.telemetry.sample(), chain_id=self.canvas.chain_id, canvas=self.canvas.address,
                    size=self.image_size, colour=ColourInputs.from_provenance(job.event.colour))
            except Exception as exc:  # one bad job (a damaged parent file, a backend fault) must not stop the rest
                self._render_failed(job, exc)
                continue
            image_path, metadata_path = self._paths(job)
            # The age layer first and the metadata last: a job is "rendered" only once all exist.
            _write_atomically(self.age_path(image_path), rendered.age_layer)
            _write_atomically(image_path, rendered.image_png)
            _write_atomically(metadata_path, rendered.metadata)
            self.store.advance(job, "rendered", image_path=str(image_path), metadata_path=str(metadata_path),
                               image_cid=rendered.image_cid, metadata_cid=rendered.metadata_cid,
                               changed_pixel_fraction=rendered.changed_pixel_fraction)
            failpoint("after-render")
            log.info("rendered token %d generation %d (%s%s) in %.2f s: metadata %s", job.token_id,
                     job.generation, job.kind, f", phoenix: {rendered.phoenix}" if rendered.phoenix else "",
                     time.perf_counter() - started, rendered.metadata_cid)
            done += 1
        return done

    def _render_failed(self, job: Job, exc: Exception) -> None:
        """Keep the job pending for another try; after RENDER_ATTEMPTS tries, fail it with the reason."""
        reason = f"render failed: {type(exc).__name__}: {exc}"
        if job.attempts + 1 >= RENDER_ATTEMPTS:
            self.store.advance(job, "failed", last_error=f"{reason} (after {RENDER_ATTEMPTS} tries)")
            log.error("token %d generation %d failed for good: %s", job.token_id, job.generation, reason)
        else:
            self.store.record_error(job, reason)
            log.warning("token %d generation %d: %s; will try again", job.token_id, job.generation, reason)

    # ------------------------------------------------------------------- pin

    def pin_ready(self) -> int:
        done = 0
        for job in self.store.jobs("rendered")[: self.batch_size]:
            try:
                for path, cid in self._pin_list(job):
                    pinned = self.pinner.pin(Path(path).read_bytes())
                    if pinned != cid:
                        raise CidMismatch(f"{path} changed on disk since it was rendered ({pinned} != {cid})")
            except CidMismatch as exc:
                self.store.record_error(job, str(exc))
                log.error("token %d generation %d: %s", job.token_id, job.generation, exc)
                continue
            self.store.advance(job, "pinned")
            failpoint("after-pin")
            log.info("pinned token %d generation %d: image %s", job.token_id, job.generation, job.image_cid)
            done += 1
        return done

    def _pin_list(self, job: Job) -> list[tuple[Path, str]]:
        """What a job pins, metadata last: the age layer (when it has one), the image, the metadata."""
        files = []
        age = self.age_path(job.image_path)
        memory = (json.loads(Path(job.metadata_path).read_bytes()).get("provenance") or {}).get("memory")
        if memory and age.exists():
            files.append((age, memory["age_layer"]["cid"]))
        return [*files, (Path(job.image_path), job.image_cid), (Path(job.metadata_path), job.metadata_cid)]

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
        """Settle commit transactions already sent: mined, lost, replaced, or stuck (then bumped)."""
        done = 0
        groups: dict[tuple[int, str | None], list[Job]] = {}
        for job in self.store.jobs("sent"):
            groups.setdefault((job.commit_nonce, job.commit_tx), []).append(job)
        w3 = self.canvas.w3
        for (nonce, tx_hash), jobs in groups.items():
            receipt = None
            if tx_hash:
                try:
                    receipt = w3.eth.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    receipt = None
            if receipt is not None and receipt["status"] == 1:
                for job in jobs:
                    self.store.advance(job, "committed", commit_block=receipt["blockNumber"])
                done += len(jobs)
                continue
            if receipt is None and w3.eth.get_transaction_count(self.account.address, "latest") <= nonce:
                if w3.eth.get_transaction_count(self.account.address, "pending") > nonce:
                    self._bump_if_stuck(jobs)  # still waiting in the mempool
                    continue
            # Mined and reverted, replaced by a transaction that did not commit these renders,
            # or never reached the node: settle what the chain already holds, send the rest again.
            for job in jobs:
                if self._settle_from_chain(job):
                    done += 1
                else:
                    self.store.advance(job, "pinned", commit_tx=None, commit_nonce=None,
                                       last_error=f"commit transaction {tx_hash} (nonce {nonce}) did not land")
        return done

    def _bump_if_stuck(self, jobs: list[Job]) -> None:
        """Replace a commit that has waited too long with the same nonce and higher fees."""
        first = jobs[0]
        if first.commit_sent_at is None or time.time() - first.commit_sent_at < self.stuck_after:
            return
        market = transactions.eip1559_fees(self.canvas.w3)

        def bump(old: int | None, floor: int) -> int:
            return max(floor, (old or 0) * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR + 1)

        max_fee = bump(first.commit_max_fee, market.max_fee_per_gas)
        bumped = transactions.Fees(max_fee, min(max_fee, bump(first.commit_priority_fee,
                                                              market.max_priority_fee_per_gas)))
        call = self._commit_call(jobs)
        try:
            tx = transactions.build(self.canvas.w3, self.account, call, nonce=first.commit_nonce, fees=bumped)
        except transactions.TransactionFailed as exc:
            log.error("cannot replace stuck commit %s: %s", first.commit_tx, exc)
            return
        tx_hash = transactions.send(self.canvas.w3, self.account, tx)
        for job in jobs:
            self.store.note(job, commit_tx=tx_hash, commit_max_fee=bumped.max_fee_per_gas,
                            commit_priority_fee=bumped.max_priority_fee_per_gas, commit_sent_at=time.time())
        log.warning("commit %s (nonce %d) stuck for %.0f s: replaced by %s at max fee %d wei/gas",
                    first.commit_tx, first.commit_nonce, time.time() - first.commit_sent_at, tx_hash,
                    bumped.max_fee_per_gas, extra={"event": "fee-bump", "tx": tx_hash})

    def _commit_call(self, jobs: list[Job]):
        return self.canvas.commit_batch_call([(job.token_id, job.generation, job.metadata_cid) for job in jobs])

    def _next_nonce(self) -> int:
        """The node's pending nonce, never below one the store knows it already used."""
        pending = self.canvas.w3.eth.get_transaction_count(self.account.address, "pending")
        used = [j.commit_nonce for j in self.store.jobs("sent") if j.commit_nonce is not None]
        return max([pending, *(n + 1 for n in used)])

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
        # A render of an event that a reorg dropped must never go on-chain: check before sending.
        canonical = [job for job in batch if self.canvas.block_hash(job.block_number) == job.event.block_hash]
        if len(canonical) < len(batch):
            log.warning("holding back %d render(s) whose event block is no longer canonical",
                        len(batch) - len(canonical))
        batch = canonical
        if not batch:
            return done
        w3 = self.canvas.w3
        call = self._commit_call(batch)
        try:
            tx = transactions.build(w3, self.account, call, nonce=self._next_nonce())
        except transactions.TransactionFailed as exc:
            for job in batch:
                self.store.record_error(job, str(exc))
            log.error("commit of %d render(s) would fail: %s", len(batch), exc)
            return done
        sent_at = time.time()
        for job in batch:
            self.store.advance(job, "sent", commit_nonce=tx["nonce"], commit_max_fee=tx["maxFeePerGas"],
                               commit_priority_fee=tx["maxPriorityFeePerGas"], commit_sent_at=sent_at)
        tx_hash = transactions.send(w3, self.account, tx)
        failpoint("after-send")
        for job in batch:
            self.store.note(job, commit_tx=tx_hash)
        failpoint("before-receipt")
        try:
            receipt = transactions.wait(w3, tx_hash, timeout=self.receipt_timeout)
        except TimeExhausted:
            log.warning("no receipt yet for commit %s (nonce %d); checking again next pass", tx_hash, tx["nonce"])
            return done
        except transactions.TransactionFailed as exc:
            log.error("%s", exc)  # the next pass settles these jobs from the chain or sends them again
            return done
        for job in batch:
            self.store.advance(self.store.job(job.token_id, job.generation), "committed",
                               commit_block=receipt["blockNumber"])
        log.info("committed %d render(s) in block %d (tx %s, %d gas)", len(batch), receipt["blockNumber"],
                 tx_hash, receipt["gasUsed"], extra={"event": "committed", "tx": tx_hash, "renders": len(batch),
                                                     "gas": receipt["gasUsed"]})
        return done + len(batch)

    # ------------------------------------------------------------------ loop

    def step(self) -> Stages:
        """One pass over every stage. A node that is down skips the stages that need it, for this
        pass only; the others go on (with the RPC node down, rendering and pinning continue)."""
        failed: set[str] = set()

        def stage(component: str | None, work: Callable[[], int]) -> int:
            if component in failed:
                return 0
            outages = RPC_OUTAGES if component == "rpc" else (IpfsUnavailable,) if component == "ipfs" else ()
            try:
                done = work()
            except outages as exc:
                self.health.down(component, exc)
                failed.add(component)
                return 0
            if component:
                self.health.up(component)
            return done

        return Stages(stage("rpc", self.read_chain), stage(None, self.render_ready),
                      stage("ipfs", self.pin_ready), stage("rpc", self.commit_ready))

    def run(self, until: Callable[[], bool] | None = None, poll_interval: float = 2.0,
            timeout: float | None = None) -> None:
        """Loop until `until()` is true (forever when None); sleeps only when idle or degraded."""
        deadline = None if timeout is None else time.monotonic() + timeout
        failures = 0
        while True:
            busy = self.step().busy
            if until is not None and until():
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the daemon did not finish within {timeout:.0f} s")
            if self.health.degraded:
                time.sleep(backoff_delay(failures))
                failures += 1
            else:
                failures = 0
                if not busy:
                    time.sleep(poll_interval)


def open_daemon(settings, account: LocalAccount) -> Daemon:
    """Connect every stage from `settings` (a `renderer.config.Settings`), failing early and clearly."""
    from .backends import backend_options, load_backend
    from .chain import connect
    from .pools import open_pools
    from .telemetry import open_telemetry

    w3 = connect(settings.rpc_url, settings.rpc_timeout, settings.chain_id)
    canvas = Canvas(w3, settings.canvas)
    pinner = Replicas(settings.ipfs_api, settings.ipfs_timeout)
    pinner.version()  # fail now, with a clear message, if a node is down
    pools = open_pools(canvas, settings.pools)
    store = JobStore(settings.db_path, canvas.chain_id, canvas.address, settings.start_block)
    backend = load_backend(settings.backend, **backend_options(settings))
    # NVML only where the GPU is used: a CPU render's colours must not depend on a GPU's state.
    telemetry = (open_telemetry(settings.telemetry_replay, settings.gpu_index)
                 if settings.telemetry_replay or settings.backend != "noise" else None)
    daemon = Daemon(canvas, store, backend, pinner, account,
                    artefact_dir=settings.artefact_dir, image_size=settings.image_size,
                    confirmations=settings.confirmations, log_range=settings.log_range,
                    batch_size=settings.batch_size, receipt_timeout=settings.receipt_timeout,
                    stuck_after=settings.stuck_after, pools=pools, telemetry=telemetry,
                    phoenix=PhoenixPolicy(max_temperature_c=settings.max_temperature))
    daemon.check_role()
    return daemon

"""The daemon: one pass runs every stage once (read -> render -> pin -> commit); `run` repeats it.

Each stage takes jobs in one state and leaves them in the next (renderer.store),
so the daemon can stop anywhere and resume. The daemon's process is the only
writer of the store and the only signer, with or without Ray workers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from eth_account.signers.local import LocalAccount

from ..chain import Canvas
from ..errors import ChainUnavailable, IpfsUnavailable, SetupError
from ..health import Health, backoff_delay
from ..ipfs import Replicas
from ..store import JobStore
from .clock import NoClock
from .committer import Committer
from .intake import Intake
from .options import PipelineOptions
from .pinner import PinStage

log = logging.getLogger("chaos.daemon")

#: What an unreachable RPC node raises, through web3's HTTP provider.
RPC_OUTAGES = (ChainUnavailable, requests.exceptions.ConnectionError, requests.exceptions.Timeout)


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


class Daemon:
    """The stages, composed. `renders` is LocalRenders (this process) or a Ray farm."""

    def __init__(self, canvas: Canvas, store: JobStore, pinner: Replicas, account: LocalAccount, *,
                 options: PipelineOptions, intake: Intake, renders, committer: Committer):
        self.canvas = canvas
        self.store = store
        self.pinner = pinner
        self.account = account
        self.options = options
        self.intake = intake
        self.renders = renders
        self.pins = PinStage(store, pinner, options.batch_size)
        self.committer = committer
        self.health = Health(log)
        #: Stages after the commit stage, one call a pass (renderer.phoenix_stages: the Last Frame
        #: auction of a settled rebirth, the thermal oracle's forecast); set by open_daemon.
        self.reports: list[Callable[[], int]] = []
        self.clock = NoClock()

    def measure_with(self, clock) -> None:
        """Count CPU time per stage on `clock` (a StageClock), the store's and the workers' included."""
        self.clock = clock
        self.store.clock = clock
        self.renders.clock = clock

    @property
    def pools(self):
        """The ColourPools web3 contract, or None for a canvas without pools."""
        return self.intake.pools

    def check_role(self) -> None:
        if not self.canvas.has_renderer_role(self.account.address):
            raise SetupError(f"{self.account.address} lacks RENDERER_ROLE on {self.canvas.address}: "
                             "the canvas admin must grantRole(RENDERER_ROLE, this address)")

    # One method per stage, for callers (and tests) that drive the stages one at a time.
    def read_chain(self) -> int:
        return self.intake.read()

    def render_ready(self) -> int:
        return self.renders.step()

    def pin_ready(self) -> int:
        return self.pins.pin_ready()

    def commit_ready(self) -> int:
        return self.committer.commit_ready(more_coming=self.renders.in_flight > 0)

    def step(self, read: bool = True) -> Stages:
        """One pass over every stage (the read stage only when `read`). A node that is down skips
        the stages that need it, for this pass only; the others go on (with the RPC node down,
        rendering and pinning continue)."""
        failed: set[str] = set()

        def stage(component: str | None, work: Callable[[], int], label: str) -> int:
            if component in failed:
                return 0
            outages = RPC_OUTAGES if component == "rpc" else (IpfsUnavailable,) if component == "ipfs" else ()
            try:
                with self.clock.measure(label):
                    done = work()
            except outages as exc:
                self.health.down(component, exc)
                failed.add(component)
                return 0
            if component:
                self.health.up(component)
            return done

        # Ray workers pin what they render: their outages surface as failed renders, retried.
        stages = Stages(stage("rpc", self.read_chain, "read (RPC, colour inputs)") if read else 0,
                        stage(None, self.render_ready, "dispatch and collect"),
                        stage("ipfs", self.pin_ready, "pin"), stage("rpc", self.commit_ready, "commit (RPC, signing)"))
        for report in self.reports:
            stage("rpc", report, "phoenix reports (RPC, signing)")
        return stages

    def run(self, until: Callable[[], bool] | None = None, poll_interval: float | None = None,
            timeout: float | None = None) -> None:
        """Loop until `until()` is true (forever when None); sleeps only when idle or degraded.
        The chain is polled at most once per `poll_interval`: a pass runs whenever a worker's
        result comes back, and each poll costs RPC round trips whether or not a block came."""
        poll_interval = self.options.poll_interval if poll_interval is None else poll_interval
        deadline = None if timeout is None else time.monotonic() + timeout
        failures = 0
        next_read = 0.0
        while True:
            now = time.monotonic()
            reading = now >= next_read
            if reading:
                next_read = now + poll_interval
            busy = self.step(read=reading).busy
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
                    self.renders.idle(poll_interval)

    def drain(self) -> None:
        """Do all work that is ready now (renders handed to workers included), then return."""
        while True:
            busy = self.step().busy
            if not busy and not self.renders.in_flight:
                return
            if not busy:
                self.renders.idle(self.options.poll_interval)

    def close(self) -> None:
        """Stop the workers (if any) and close the store and the IPFS clients."""
        self.renders.close()
        self.store.close()
        self.pinner.close()


def open_daemon(settings, account: LocalAccount) -> Daemon:
    """Connect every stage from `settings` (a `renderer.config.Settings`), failing early and clearly."""
    from ..backends import backend_options, load_backend
    from ..chain import connect
    from ..pools import open_pools
    from ..telemetry import AbsentTelemetry, open_telemetry
    from .artefacts import Artefacts
    from .dispatcher import Dispatcher
    from ..phoenix_stages import phoenix_reports
    from .reader import ChainReader

    options = PipelineOptions.from_settings(settings)
    w3 = connect(settings.rpc_url, settings.rpc_timeout, settings.chain_id)
    canvas = Canvas(w3, settings.canvas)
    pinner = Replicas(settings.ipfs_api, settings.ipfs_timeout)
    pinner.version()  # fail now, with a clear message, if a node is down
    pools = open_pools(canvas, settings.pools)
    store = JobStore(settings.db_path, canvas.chain_id, canvas.address, settings.start_block)
    reader = ChainReader(w3, address=canvas.address, topics=canvas.event_topics(), confirmations=options.confirmations,
                         span=options.log_range, start_block=store.start_block)
    intake = Intake(canvas, store, reader, pools, rpc_outages=RPC_OUTAGES,
                    congestion_threshold_wei=options.congestion_threshold_wei)
    dispatcher = Dispatcher(store, chain_id=canvas.chain_id, canvas=canvas.address, size=options.image_size,
                            gallery_url=options.gallery_url)
    artefacts = Artefacts(options.artefact_dir)
    committer = Committer(canvas, store, account, batch_size=options.batch_size,
                          receipt_timeout=options.receipt_timeout, stuck_after=options.stuck_after,
                          linger=options.commit_linger)
    if options.distributed:
        from .farm import RayRenders  # the only place Ray is imported

        renders = RayRenders(settings, options, store, dispatcher, artefacts)
    else:
        from .renders import LocalRenders

        backend = load_backend(settings.backend, **backend_options(settings))
        # NVML only where the GPU is used: a CPU render's colours must not depend on a GPU's state.
        telemetry = (open_telemetry(settings.telemetry_replay, settings.gpu_index)
                     if settings.telemetry_replay or settings.backend != "noise"
                     else AbsentTelemetry("no telemetry source configured"))
        renders = LocalRenders(store, dispatcher, artefacts, backend, telemetry=telemetry, policy=options.phoenix,
                               batch_size=options.batch_size, gpu_batch=options.gpu_batch)
    daemon = Daemon(canvas, store, pinner, account, options=options, intake=intake, renders=renders,
                    committer=committer)
    try:
        daemon.check_role()
        daemon.reports = phoenix_reports(settings, w3, account, store)
    except SetupError:
        renders.close()
        raise
    return daemon

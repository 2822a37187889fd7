"""Render workers on Ray: N actors on a local Ray (`--workers N`) or on a cluster (`--ray-address`).

The daemon's process stays the coordinator: it alone reads the chain, writes the
store and signs. It hands each actor self-contained tasks (`worker.RenderTask`:
the event, the token's mint, the parent's bytes and CID); the actor renders with
the backend it loaded once, pins on its own IPFS endpoint(s), checks every CID
the node reports against the one it computed, and returns the `Rendered` bytes,
which the coordinator writes to the artefact folder before moving the job from
pending to pinned.

Faults: an actor that dies (its process killed, its node lost) is restarted by
Ray (`max_restarts`); its calls fail, and their jobs, still pending in the store,
are handed out again. A result is accepted only for a job still pending with the
same event (a duplicate, or a render of an event a reorg replaced, is dropped).
Work in flight is bounded: `in_flight_per_slot` calls per actor, each of at most
`gpu_batch` jobs of different tokens.

This is the only module that imports Ray, and only once the auth settings are in the
environment (Ray reads them when it is imported).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SetupError
from ..failpoints import failpoint
from ..render import Rendered
from ..store import JobStore
from .artefacts import Artefacts
from .clock import NoClock
from .dispatcher import Dispatcher
from .options import PipelineOptions
from .worker import RenderTask

log = logging.getLogger("chaos.daemon")

#: Times Ray restarts a dead actor (its process or node lost) before giving it up.
ACTOR_RESTARTS = 10
#: Consecutive failed calls after which the coordinator stops sending work to an actor.
ACTOR_FAILURES = 5
#: The token file of the local Ray this process started first (see RayRenders.__init__).
_local_token_path: dict[str, str] = {}
#: AF_UNIX socket paths are limited to 107 bytes; Ray's session folder adds about 70.
_SOCKET_HEADROOM = 107 - 72


@dataclass(frozen=True)
class WorkerSetup:
    """What an actor needs to build its backend, telemetry and IPFS clients on its own machine.
    A node may override the IPFS endpoint(s) and model folder in its environment
    (CHAOS_WORKER_IPFS_API, CHAOS_WORKER_MODEL_DIR): each GPU node pins to its own node."""

    backend: str
    backend_options: dict
    ipfs_api: str
    ipfs_timeout: float
    telemetry_replay: str | None
    gpu_index: int
    phoenix: object


class RenderWorker:
    """A Ray actor: one backend (loaded once), its own telemetry and IPFS clients."""

    def __init__(self, setup: WorkerSetup):
        from ..backends import load_backend
        from ..ipfs import Replicas
        from ..telemetry import AbsentTelemetry, open_telemetry

        options = dict(setup.backend_options)
        if os.environ.get("CHAOS_WORKER_MODEL_DIR") and "model_dir" in options:
            options["model_dir"] = Path(os.environ["CHAOS_WORKER_MODEL_DIR"])
        self.backend = load_backend(setup.backend, **options)
        self.pinner = Replicas(os.environ.get("CHAOS_WORKER_IPFS_API") or setup.ipfs_api, setup.ipfs_timeout)
        self.telemetry = (open_telemetry(Path(setup.telemetry_replay) if setup.telemetry_replay else None,
                                         setup.gpu_index)
                          if setup.telemetry_replay or setup.backend != "noise"
                          else AbsentTelemetry("no telemetry source configured"))
        self.policy = setup.phoenix

    def pid(self) -> int:
        return os.getpid()

    def render(self, tasks: list[RenderTask]) -> tuple[list[Rendered | str], dict[str, float]]:
        """Render and pin each task; a task that fails gives its error text instead. Also returns
        the CPU seconds this call spent per stage (the coordinator's StageClock adds them)."""
        from .worker import pin_jobs, render_tasks, rendered_files

        started = time.thread_time()
        rendered = render_tasks(tasks, self.backend, telemetry=self.telemetry, policy=self.policy)
        label = f"worker render {tasks[0].event.kind}" if len(tasks) == 1 else "worker render (batches)"
        cpu = {label: time.thread_time() - started}
        started = time.thread_time()
        # Every render of the call pinned in one request per endpoint (js-ipfs's cost per request is
        # worth sharing); a CID mismatch refuses only its own job, an IPFS outage all of them.
        made = [i for i, result in enumerate(rendered) if not isinstance(result, Exception)]
        try:
            refused = pin_jobs(self.pinner, [rendered_files(rendered[i]) for i in made]) if made else []
        except Exception as exc:  # an IPFS outage: the coordinator retries these jobs
            refused = [exc] * len(made)
        for i, exc in zip(made, refused):
            if exc is not None:
                rendered[i] = exc
        cpu["worker pin"] = time.thread_time() - started
        return [result if not isinstance(result, Exception) else f"{type(result).__name__}: {result}"
                for result in rendered], cpu


@dataclass
class _Call:
    actor: int
    jobs: list  # (Job, RenderTask)
    sent_at: float


def temp_link(folder: Path) -> Path:
    """The short link to `folder` that Ray is given when `folder`'s own path is too long."""
    return Path(tempfile.gettempdir()) / f"chaos-ray-{hashlib.sha256(str(folder).encode()).hexdigest()[:12]}"


def _short_temp_dir(folder: Path) -> tuple[Path, Path | None]:
    """Ray's temp folder, under --out; through a short link in the system temp folder when the
    real path would make Ray's socket paths too long. Returns (path to give Ray, link or None)."""
    folder.mkdir(parents=True, exist_ok=True)
    if len(str(folder)) <= _SOCKET_HEADROOM:
        return folder, None
    link = temp_link(folder)
    if link.is_symlink() and link.resolve() != folder.resolve():
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(folder, target_is_directory=True)
    return link, link


def local_auth_token(folder: Path) -> Path:
    """The token a local Ray cluster authenticates with (Ray 2.60 turns token auth on), kept under
    --out and never in ~/.ray; created once, readable by its owner only."""
    path = folder / "auth_token"
    if not path.exists() or not path.read_text().strip():
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
    return path


class RayRenders:
    """The render stage on Ray actors: dispatch ready jobs, collect results, accept or drop them."""

    def __init__(self, settings, options: PipelineOptions, store: JobStore, dispatcher: Dispatcher,
                 artefacts: Artefacts):
        from ..backends import backend_options

        self.options = options
        self.store = store
        self.dispatcher = dispatcher
        self.artefacts = artefacts
        self.clock = NoClock()
        self._link = None
        self._started_ray = False
        out = Path(settings.out_dir).resolve()
        if not options.ray_address:
            # Explicit, so a local Ray never reads or writes ~/.ray/auth_token. Ray keeps the first
            # token it loads for the life of the process: a second local Ray in the same process
            # (tests, benchmarks) must use the same file.
            os.environ["RAY_AUTH_MODE"] = "token"
            if "path" not in _local_token_path:
                _local_token_path["path"] = str(local_auth_token(out / "ray-auth"))
            os.environ["RAY_AUTH_TOKEN_PATH"] = _local_token_path["path"]
        import ray
        from ray.exceptions import RayError

        self.ray = ray
        if options.ray_address:
            if not (os.environ.get("RAY_AUTH_TOKEN_PATH") or os.environ.get("RAY_AUTH_TOKEN")
                    or os.environ.get("RAY_AUTH_MODE") == "disabled"):
                raise SetupError(f"joining the Ray cluster at {options.ray_address} needs its token: set "
                                 "RAY_AUTH_TOKEN_PATH to the file the head node uses (its RAY_AUTH_TOKEN_PATH), "
                                 "or RAY_AUTH_MODE=disabled for a cluster without token auth")
            ray.init(address=options.ray_address, configure_logging=False, log_to_driver=False)
        else:
            temp_dir, self._link = _short_temp_dir(out / "ray")
            try:
                ray.init(num_cpus=max(options.workers, os.cpu_count() or 1), include_dashboard=False,
                         _temp_dir=str(temp_dir), _node_ip_address="127.0.0.1", configure_logging=False,
                         log_to_driver=False)
            except BaseException:
                self.close()
                raise
        self._started_ray = True
        setup = WorkerSetup(settings.backend, backend_options(settings), settings.ipfs_api, settings.ipfs_timeout,
                            str(settings.telemetry_replay) if settings.telemetry_replay else None,
                            settings.gpu_index, options.phoenix)
        gpu = settings.backend == "diffusion" and settings.device.startswith("cuda")
        actor = ray.remote(RenderWorker).options(
            num_cpus=0 if gpu else 1, num_gpus=1 if gpu else 0, max_restarts=ACTOR_RESTARTS, max_task_retries=0,
            scheduling_strategy="SPREAD")
        count = options.workers or max(1, int(ray.cluster_resources().get("GPU" if gpu else "CPU", 1)))
        self.actors = [actor.remote(setup) for _ in range(count)]
        self.failures = [0] * count
        try:
            # Fail now, clearly, if a worker cannot load its backend or reach its IPFS node.
            self.pids = ray.get([a.pid.remote() for a in self.actors], timeout=300)
        except RayError as exc:
            self.close()
            raise SetupError(f"the render workers did not start: {exc}") from None
        self.calls: dict = {}  # ray.ObjectRef -> _Call
        #: token id -> the actor its latest generation went to (it keeps that render's pixels).
        self._rendered_by: dict[int, int] = {}
        #: Actors that lost a call get no work until a probe (their pid) answers: a restarted
        #: actor answers once it is up again; one that cannot be placed never takes work.
        self.probes: dict = {}  # ray.ObjectRef -> actor index
        log.info("%d render worker(s) on Ray (%s), pids %s", count, options.ray_address or "local",
                 ", ".join(map(str, self.pids)))

    # -------------------------------------------------------------- dispatch

    def _busy(self) -> set[tuple[int, int]]:
        return {job.key for call in self.calls.values() for job, _ in call.jobs}

    def _load(self) -> list[int]:
        load = [0] * len(self.actors)
        for call in self.calls.values():
            load[call.actor] += 1
        return load

    def _dispatch(self) -> None:
        probing = set(self.probes.values())
        live = [i for i, failures in enumerate(self.failures) if failures < ACTOR_FAILURES and i not in probing]
        if not live and not probing:
            raise SetupError(f"every render worker failed {ACTOR_FAILURES} times in a row: see the Ray logs under "
                             f"{self.options.artefact_dir.parent / 'ray'} (or the cluster's)")
        load = self._load()
        free = sum(max(0, self.options.in_flight_per_slot - load[i]) for i in live)
        if not free:
            return
        ready = self.dispatcher.ready(free * self.options.gpu_batch, busy=self._busy())
        filling: dict[int, list] = {}  # actor -> the jobs of its next call, not sent yet

        def send(actor: int) -> None:
            jobs = filling.pop(actor)
            ref = self.actors[actor].render.remote([task for _, task in jobs])
            self.calls[ref] = _Call(actor, jobs, time.monotonic())
            load[actor] += 1
            for job, _ in jobs:
                self._rendered_by[job.token_id] = actor

        for job in ready:
            actor = self._choose(job[0].token_id, live, load, filling)
            if actor is None:
                break
            filling.setdefault(actor, []).append(job)
            if len(filling[actor]) >= self.options.gpu_batch:
                send(actor)
        for actor in list(filling):
            send(actor)

    def _choose(self, token_id: int, live: list[int], load: list[int], filling: dict[int, list]) -> int | None:
        """The actor for a job: the one that rendered the token's parent, which keeps its decoded
        pixels (renderer.decoded: ~2.6 ms of a mutation), unless it is busier than the least busy
        one by more than one call; else the least busy. None: every actor has its calls out."""
        def calls(i: int) -> int:
            return load[i] + (i in filling)

        open_ = [i for i in live if i in filling or load[i] < self.options.in_flight_per_slot]
        if not open_:
            return None
        least = min(open_, key=calls)
        parent = self._rendered_by.get(token_id)
        return parent if parent in open_ and calls(parent) <= calls(least) + 1 else least

    # --------------------------------------------------------------- collect

    def _probe(self, actor: int) -> None:
        if self.failures[actor] < ACTOR_FAILURES and actor not in self.probes.values():
            self.probes[self.actors[actor].pid.remote()] = actor

    def _probed(self, ref) -> None:
        from ray.exceptions import RayError

        actor = self.probes.pop(ref)
        try:
            self.pids[actor] = self.ray.get(ref)
        except RayError:
            self.failures[actor] += 1
            self._probe(actor)
            return
        self.failures[actor] = 0
        log.info("render worker %d is back (pid %d)", actor, self.pids[actor],
                 extra={"event": "worker-back", "worker": actor})

    def _collect(self, timeout: float) -> int:
        from ray.exceptions import RayError

        waiting = [*self.calls, *self.probes]
        if not waiting:
            return 0
        done, _ = self.ray.wait(waiting, num_returns=len(waiting), timeout=timeout, fetch_local=True)
        if not done:
            return 0
        accepted = []
        for ref in done:
            if ref in self.probes:
                self._probed(ref)
                continue
            call = self.calls.pop(ref)
            try:
                results = self.ray.get(ref)
            except RayError as exc:  # the actor died mid-call: its jobs are still pending; hand them out again
                self.failures[call.actor] += 1
                log.warning("render worker %d lost a call of %d job(s) (%s); they will be rendered again",
                            call.actor, len(call.jobs), type(exc).__name__,
                            extra={"event": "worker-lost", "worker": call.actor})
                self._probe(call.actor)
                continue
            self.failures[call.actor] = 0
            results, cpu = results
            for label, seconds in cpu.items():
                self.clock.add(label, seconds)
            seconds = time.monotonic() - call.sent_at
            accepted.extend((job, task, result, seconds) for (job, task), result in zip(call.jobs, results))
        return self._accept(accepted)

    def _accept(self, results: list[tuple]) -> int:
        """Record the renders that their jobs still wait for, in one store transaction; drop the rest."""
        pinned = []
        with self.store.transaction():
            for job, task, result, seconds in results:
                current = self.store.job(*job.key)
                if current is None or current.state != "pending" or current.event != task.event:
                    log.info("dropped a render of token %d generation %d: the job no longer waits for it", *job.key)
                    continue
                if isinstance(result, str):
                    self.dispatcher.render_failed(current, RuntimeError(result))
                    continue
                with self.clock.measure("artefact files"):
                    values = self.artefacts.write(current, result)
                self.store.advance(current, "pinned", **values)
                pinned.append((job, result, seconds))
        if pinned:
            failpoint("after-render")
            failpoint("after-pin")
        for job, result, seconds in pinned:
            log.info("rendered and pinned token %d generation %d (%s%s) in %.2f s: metadata %s", job.token_id,
                     job.generation, job.kind, f", phoenix: {result.phoenix}" if result.phoenix else "", seconds,
                     result.metadata_cid)
        return len(pinned)

    # ------------------------------------------------------------------ loop

    def step(self) -> int:
        accepted = self._collect(timeout=0)
        self._dispatch()
        return accepted

    @property
    def in_flight(self) -> int:
        return len(self.calls)

    def idle(self, seconds: float) -> None:
        """Nothing else to do: wait for the first result (or for new blocks)."""
        if self.calls or self.probes:
            self.ray.wait([*self.calls, *self.probes], num_returns=1, timeout=seconds, fetch_local=False)
        else:
            time.sleep(seconds)

    def close(self) -> None:
        """Stop the actors, and the local Ray this daemon started (a cluster it joined keeps running)."""
        if self._started_ray:
            for actor in getattr(self, "actors", []):
                self.ray.kill(actor, no_restart=True)
            self.ray.shutdown()
            self._started_ray = False
        if self._link is not None:
            self._link.unlink(missing_ok=True)
            self._link = None

"""The render stage in the daemon's own process: a batch of ready jobs per pass, no Ray."""

from __future__ import annotations

import logging
import time

from ..failpoints import failpoint
from ..store import JobStore
from .artefacts import Artefacts
from .clock import NoClock
from .dispatcher import Dispatcher
from .worker import render_tasks

log = logging.getLogger("chaos.daemon")


class LocalRenders:
    def __init__(self, store: JobStore, dispatcher: Dispatcher, artefacts: Artefacts, backend, *,
                 telemetry, policy, batch_size: int, gpu_batch: int):
        self.store = store
        self.dispatcher = dispatcher
        self.artefacts = artefacts
        self.backend = backend
        self.telemetry = telemetry
        self.policy = policy
        self.batch_size = batch_size
        #: Jobs per backend call (renderer.render.render_batch when more than one).
        self.gpu_batch = gpu_batch
        self.clock = NoClock()

    def step(self) -> int:
        # At most one batch per pass, so a backlog flows through pin and commit instead of
        # waiting for every render to finish first.
        done = 0
        ready = self.dispatcher.ready(self.batch_size)
        for start in range(0, len(ready), self.gpu_batch):
            chunk = ready[start:start + self.gpu_batch]
            started = time.perf_counter()
            label = f"render {chunk[0][0].kind}" if len(chunk) == 1 else "render (batches)"
            with self.clock.measure(label):
                results = render_tasks([task for _, task in chunk], self.backend, telemetry=self.telemetry,
                                       policy=self.policy)
            seconds = (time.perf_counter() - started) / len(chunk)
            for (job, _), rendered in zip(chunk, results):
                # One bad job (a damaged parent file, a backend fault) must not stop the rest.
                if isinstance(rendered, Exception):
                    self.dispatcher.render_failed(job, rendered)
                    continue
                with self.clock.measure("artefact files"):
                    values = self.artefacts.write(job, rendered)
                self.store.advance(job, "rendered", **values)
                failpoint("after-render")
                log.info("rendered token %d generation %d (%s%s) in %.2f s: metadata %s", job.token_id,
                         job.generation, job.kind, f", phoenix: {rendered.phoenix}" if rendered.phoenix else "",
                         seconds, rendered.metadata_cid)
                done += 1
        return done

    #: Renders under way outside the current pass: none, in this process.
    in_flight = 0

    def idle(self, seconds: float) -> None:
        """Nothing to do: wait for new blocks."""
        time.sleep(seconds)

    def close(self) -> None:
        """Nothing runs outside this process."""

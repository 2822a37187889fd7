"""The render stage in the daemon's own process: a batch of ready jobs per pass, no Ray."""

from __future__ import annotations

import logging
import time

from ..failpoints import failpoint
from ..store import JobStore
from .artefacts import Artefacts
from .dispatcher import Dispatcher
from .worker import render_task

log = logging.getLogger("chaos.daemon")


class LocalRenders:
    def __init__(self, store: JobStore, dispatcher: Dispatcher, artefacts: Artefacts, backend, *,
                 telemetry, policy, batch_size: int):
        self.store = store
        self.dispatcher = dispatcher
        self.artefacts = artefacts
        self.backend = backend
        self.telemetry = telemetry
        self.policy = policy
        self.batch_size = batch_size

    def step(self) -> int:
        # At most one batch per pass, so a backlog flows through pin and commit instead of
        # waiting for every render to finish first.
        done = 0
        for job, task in self.dispatcher.ready(self.batch_size):
            started = time.perf_counter()
            try:
                rendered = render_task(task, self.backend, telemetry=self.telemetry, policy=self.policy)
            except Exception as exc:  # one bad job (a damaged parent file, a backend fault) must not stop the rest
                self.dispatcher.render_failed(job, exc)
                continue
            self.store.advance(job, "rendered", **self.artefacts.write(job, rendered))
            failpoint("after-render")
            log.info("rendered token %d generation %d (%s%s) in %.2f s: metadata %s", job.token_id,
                     job.generation, job.kind, f", phoenix: {rendered.phoenix}" if rendered.phoenix else "",
                     time.perf_counter() - started, rendered.metadata_cid)
            done += 1
        return done

    def idle(self, seconds: float) -> None:
        """Nothing to do: wait for new blocks."""
        time.sleep(seconds)

    def close(self) -> None:
        """Nothing runs outside this process."""

"""Which jobs are ready to render, as self-contained tasks, and what a failed render does to its job.

Readiness is decided in SQL (`JobStore.ready_to_render`): a pending job whose
parent generation is rendered, oldest event first. A token's generations
therefore render in order, while different tokens render side by side.
"""

from __future__ import annotations

import logging

from ..render import Origin
from ..store import Job, JobStore
from .artefacts import Artefacts
from .worker import RenderTask

log = logging.getLogger("chaos.daemon")

#: Tries of one render before its job is marked failed (its children then wait: they need it).
RENDER_ATTEMPTS = 3


class Dispatcher:
    def __init__(self, store: JobStore, *, chain_id: int, canvas: str, size: int, gallery_url: str | None = None):
        self.store = store
        #: Each token's metadata links <gallery_url>/#/token/<id> (the gallery's route) when set.
        self.gallery_url = gallery_url
        self.chain_id = chain_id
        self.canvas = canvas
        self.size = size
        #: (store version, busy keys) of the last call that found nothing: until either changes,
        #: nothing will be ready (an idle pass then costs no query).
        self._nothing_at = None

    def ready(self, limit: int, busy: frozenset | set = frozenset()) -> list[tuple[Job, RenderTask]]:
        """Up to `limit` ready jobs (not in `busy`) with their tasks; a job whose task cannot be
        built (a damaged parent file, a missing mint) is recorded as a failed try instead."""
        state = (self.store.version(), frozenset(busy))
        if state == self._nothing_at:
            return []
        jobs = self.store.ready_to_render(limit, busy)
        if not jobs:
            self._nothing_at = state
        ready = []
        for job in jobs:
            mint = job if job.generation == 0 else self.store.job(job.token_id, 0)
            if mint is None:
                self.store.advance(job, "failed", last_error="the token's Minted event was never read: restart "
                                   "the daemon with --start-block at or before the deployment block")
                continue
            try:
                parent = None if job.generation == 0 else \
                    Artefacts.parent(self.store.job(job.token_id, job.generation - 1))
                ready.append((job, RenderTask(job.event, Origin.from_mint(mint.event), parent, self.chain_id,
                                              self.canvas, self.size, self.external_url(job.token_id))))
            except Exception as exc:  # one bad job must not stop the rest
                self.render_failed(job, exc)
        return ready

    def external_url(self, token_id: int) -> str | None:
        return f"{self.gallery_url}/#/token/{token_id}" if self.gallery_url else None

    def render_failed(self, job: Job, exc: BaseException) -> None:
        """Keep the job pending for another try; after RENDER_ATTEMPTS tries, fail it with the reason."""
        reason = f"render failed: {type(exc).__name__}: {exc}"
        current = self.store.job(*job.key)
        if current is None or current.state != "pending":
            return  # a reorg dropped it, or another try already finished it
        if current.attempts + 1 >= RENDER_ATTEMPTS:
            self.store.advance(current, "failed", last_error=f"{reason} (after {RENDER_ATTEMPTS} tries)")
            log.error("token %d generation %d failed for good: %s", job.token_id, job.generation, reason)
        else:
            self.store.record_error(current, reason)
            log.warning("token %d generation %d: %s; will try again", job.token_id, job.generation, reason)

"""The pin stage for renders made in this process: rendered -> pinned, every CID checked.

(A Ray worker pins what it rendered itself, so its jobs skip this stage.)
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..failpoints import failpoint
from ..ipfs import Replicas
from ..store import Job, JobStore
from .artefacts import Artefacts
from .worker import pin_jobs

log = logging.getLogger("chaos.daemon")

#: What one add request carries at most: a few jobs share the node's cost per request, and no request
#: grows with the batch size (a 256 px job is ~0.6 MB; a 1024 px one ~10 MB goes alone).
REQUEST_BYTES = 4 << 20

Pins = list[tuple[Path, str]]  # a job's files to pin: (path, CID computed when it was rendered)


class PinStage:
    def __init__(self, store: JobStore, pinner: Replicas, batch_size: int):
        self.store = store
        self.pinner = pinner
        self.batch_size = batch_size

    def pin_ready(self) -> int:
        done = 0
        jobs = self.store.jobs("rendered")[: self.batch_size]
        for group in _requests([(job, Artefacts.pin_list(job)) for job in jobs]):
            files = [[(f"{path} (changed on disk since it was rendered?)", path.read_bytes(), cid)
                      for path, cid in pins] for _, pins in group]
            for (job, _), mismatch in zip(group, pin_jobs(self.pinner, files)):
                if mismatch is not None:
                    self.store.record_error(job, str(mismatch))
                    log.error("token %d generation %d: %s", job.token_id, job.generation, mismatch)
                    continue
                self.store.advance(job, "pinned")
                failpoint("after-pin")
                log.info("pinned token %d generation %d: image %s", job.token_id, job.generation, job.image_cid)
                done += 1
        return done


def _requests(jobs: list[tuple[Job, Pins]]) -> list[list[tuple[Job, Pins]]]:
    """(job, pins) grouped into add requests of at most REQUEST_BYTES; a job's files always go together."""
    groups: list[list[tuple[Job, Pins]]] = []
    size = REQUEST_BYTES
    for job, pins in jobs:
        job_size = sum(path.stat().st_size for path, _ in pins)
        if size + job_size > REQUEST_BYTES:
            groups.append([])
            size = 0
        groups[-1].append((job, pins))
        size += job_size
    return groups

"""The pin stage for renders made in this process: rendered -> pinned, every CID checked.

(A Ray worker pins what it rendered itself, so its jobs skip this stage.)
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import CidMismatch
from ..failpoints import failpoint
from ..ipfs import Replicas
from ..store import JobStore
from .artefacts import Artefacts
from .worker import pin_checked

log = logging.getLogger("chaos.daemon")


class PinStage:
    def __init__(self, store: JobStore, pinner: Replicas, batch_size: int):
        self.store = store
        self.pinner = pinner
        self.batch_size = batch_size

    def pin_ready(self) -> int:
        done = 0
        for job in self.store.jobs("rendered")[: self.batch_size]:
            try:
                pin_checked(self.pinner, [(f"{path} (changed on disk since it was rendered?)", Path(path).read_bytes(),
                                           cid) for path, cid in Artefacts.pin_list(job)])
            except CidMismatch as exc:
                self.store.record_error(job, str(exc))
                log.error("token %d generation %d: %s", job.token_id, job.generation, exc)
                continue
            self.store.advance(job, "pinned")
            failpoint("after-pin")
            log.info("pinned token %d generation %d: image %s", job.token_id, job.generation, job.image_cid)
            done += 1
        return done

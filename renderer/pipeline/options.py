"""What the stages need from `renderer.config.Settings`, taken from it and nowhere else.

No field has a default here: every default lives once, in Settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SetupError
from ..phoenix import PhoenixPolicy


@dataclass(frozen=True)
class PipelineOptions:
    artefact_dir: Path
    image_size: int
    confirmations: int
    log_range: int
    #: Most tokens one commit transaction carries (each with its newest ready generation).
    batch_size: int
    receipt_timeout: float
    stuck_after: float
    poll_interval: float
    phoenix: PhoenixPolicy
    workers: int
    ray_address: str | None
    gpu_batch: int
    in_flight_per_slot: int
    #: The most seconds a commit that is not full waits for other tokens' renders on workers.
    commit_linger: float
    #: renderer.congestion: mutations whose block base fee is above it are glitched.
    congestion_threshold_wei: int
    #: external_url of the metadata: <gallery_url>/#/token/<id>; None: no link.
    gallery_url: str | None

    @classmethod
    def from_settings(cls, settings) -> PipelineOptions:
        for name in ("batch_size", "gpu_batch", "in_flight_per_slot", "image_size", "log_range"):
            if getattr(settings, name) < 1:
                raise SetupError(f"{name} must be at least 1, not {getattr(settings, name)}")
        if settings.congestion_threshold_wei < 1:
            raise SetupError(f"the congestion threshold must be a positive number of wei (e.g. 50000000000 for "
                             f"50 gwei), not {settings.congestion_threshold_wei}")
        gallery_url = settings.gallery_url.rstrip("/") if settings.gallery_url else None
        if gallery_url is not None and not gallery_url.startswith(("http://", "https://")):
            raise SetupError(f"the gallery URL {settings.gallery_url!r} must start with http:// or https:// "
                             "(CHAOS_GALLERY_URL / --gallery-url)")
        if not settings.commit_linger >= 0:  # NaN too
            raise SetupError(f"the commit linger must be 0 (never wait) or more seconds, not {settings.commit_linger} "
                             "(CHAOS_COMMIT_LINGER / --commit-linger)")
        if settings.workers < 0:
            raise SetupError(f"--workers must be 0 (render inline) or more, not {settings.workers}")
        return cls(artefact_dir=Path(settings.artefact_dir), image_size=settings.image_size,
                   confirmations=settings.confirmations, log_range=settings.log_range,
                   batch_size=settings.batch_size, receipt_timeout=settings.receipt_timeout,
                   stuck_after=settings.stuck_after, poll_interval=settings.poll_interval,
                   phoenix=PhoenixPolicy(max_temperature_c=settings.max_temperature),
                   workers=settings.workers, ray_address=settings.ray_address, gpu_batch=settings.gpu_batch,
                   in_flight_per_slot=settings.in_flight_per_slot, commit_linger=settings.commit_linger,
                   congestion_threshold_wei=settings.congestion_threshold_wei, gallery_url=gallery_url)

    @property
    def distributed(self) -> bool:
        """Renders go to Ray actors (a local Ray, or a cluster at ray_address)."""
        return self.workers > 0 or self.ray_address is not None

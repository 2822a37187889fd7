"""Settings of the renderer: defaults, then environment variables, then flags.

| setting        | environment              | default                          |
|----------------|--------------------------|----------------------------------|
| rpc_url        | CHAOS_RPC_URL            | http://127.0.0.1:8545            |
| canvas         | CHAOS_CANVAS             | (required)                       |
| renderer key   | CHAOS_RENDERER_KEY       | (or a keystore:)                 |
| keystore       | CHAOS_KEYSTORE           | JSON keystore file               |
| its password   | CHAOS_KEYSTORE_PASSWORD  | asked on the terminal if unset   |
| ipfs_api       | CHAOS_IPFS_API           | /ip4/127.0.0.1/tcp/5001/http     |
|                |                          | (comma-separated: replicas)      |
| chain_id       | CHAOS_CHAIN_ID           | (any; set it to refuse others)   |
| confirmations  | CHAOS_CONFIRMATIONS      | 0                                |
| start_block    | CHAOS_START_BLOCK        | 0 (use the deployment block)     |
| out_dir        | CHAOS_OUT                | out                              |
| backend        | CHAOS_BACKEND            | noise                            |
| image_size     | CHAOS_IMAGE_SIZE         | 256                              |
| pools          | CHAOS_POOLS              | found from the canvas's POOLS_ROLE |
| model_dir      | CHAOS_MODEL_DIR          | (diffusion: a local model folder) |
| device         | CHAOS_DEVICE             | cuda (diffusion)                 |
| steps          | CHAOS_STEPS              | 30 (diffusion)                   |
| telemetry_replay | CHAOS_TELEMETRY_REPLAY | (NVML when a GPU is there)       |
| gpu_index      | CHAOS_GPU_INDEX          | 0 (NVML's numbering)             |
| max_temperature | CHAOS_MAX_TEMPERATURE   | 85 (Celsius; phoenix above it)   |
| workers        | CHAOS_WORKERS            | 0 (render inline, no Ray)        |
| ray_address    | CHAOS_RAY_ADDRESS        | (a local Ray when workers > 0)   |
| gpu_batch      | CHAOS_GPU_BATCH          | 1 (jobs per backend call)        |
| commit_linger  | CHAOS_COMMIT_LINGER      | 3 (seconds, the most a commit    |
|                |                          | that is not full waits)          |
| congestion_threshold_wei | CHAOS_CONGESTION_THRESHOLD_WEI | 50000000000 (50 gwei: glitch above) |
| gallery_url    | CHAOS_GALLERY_URL        | (none: metadata has no external_url) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .errors import SetupError


@dataclass(frozen=True)
class Settings:
    rpc_url: str = "http://127.0.0.1:8545"
    canvas: str | None = None
    renderer_key: str | None = field(default=None, repr=False)
    keystore: Path | None = None
    keystore_password: str | None = field(default=None, repr=False)
    ipfs_api: str = "/ip4/127.0.0.1/tcp/5001/http"
    chain_id: int | None = None
    confirmations: int = 0
    start_block: int = 0
    out_dir: Path = Path("out")
    backend: str = "noise"
    image_size: int = 256
    #: The ColourPools contract; None: the one holding the canvas's POOLS_ROLE, if any.
    pools: str | None = None
    #: Diffusion backend: a local model folder (never a hub id), the torch device, steps per image.
    model_dir: Path | None = None
    device: str = "cuda"
    steps: int = 30
    #: GPU telemetry replayed from a JSON-lines file instead of sampled with NVML.
    telemetry_replay: Path | None = None
    gpu_index: int = 0
    #: Above this GPU temperature (Celsius) a render is reborn degraded (renderer.phoenix).
    max_temperature: int = 85
    #: Widest block span of one eth_getLogs call (providers cap it).
    log_range: int = 2_000
    #: Most renders committed in one transaction.
    batch_size: int = 25
    poll_interval: float = 2.0
    rpc_timeout: float = 20.0
    ipfs_timeout: float = 30.0
    #: How long one pass waits for a commit's receipt before moving on.
    receipt_timeout: float = 30.0
    #: A commit pending longer than this is replaced with higher fees.
    stuck_after: float = 90.0
    #: Render actors on Ray; 0 renders in the daemon's own process (no Ray at all).
    workers: int = 0
    #: An existing Ray cluster (HOST:PORT) to join instead of starting a local one.
    ray_address: str | None = None
    #: Ready jobs (of different tokens) one backend call renders together.
    gpu_batch: int = 1
    #: Renders handed to workers and not yet back, per worker and batch slot.
    in_flight_per_slot: int = 2
    #: The most seconds a commit that is not full waits for other tokens' renders still on their
    #: way on workers (fewer, fuller transactions); with nothing else on its way it goes at once,
    #: and renders made in the daemon's process never wait (renderer.pipeline.committer).
    commit_linger: float = 3.0
    #: A mutation whose block's base fee is above this is glitched (renderer.congestion).
    congestion_threshold_wei: int = 50 * 10**9
    #: The public gallery's URL: metadata links each token to <gallery_url>/#/token/<id> (external_url).
    gallery_url: str | None = None

    @property
    def db_path(self) -> Path:
        return self.out_dir / "renderer.sqlite"

    @property
    def artefact_dir(self) -> Path:
        return self.out_dir / "artefacts"

    def with_overrides(self, **values) -> Settings:
        """A copy with every value that is not None replaced."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


_ENV = {
    "rpc_url": "CHAOS_RPC_URL",
    "canvas": "CHAOS_CANVAS",
    "renderer_key": "CHAOS_RENDERER_KEY",
    "keystore": "CHAOS_KEYSTORE",
    "keystore_password": "CHAOS_KEYSTORE_PASSWORD",
    "ipfs_api": "CHAOS_IPFS_API",
    "chain_id": "CHAOS_CHAIN_ID",
    "confirmations": "CHAOS_CONFIRMATIONS",
    "start_block": "CHAOS_START_BLOCK",
    "out_dir": "CHAOS_OUT",
    "backend": "CHAOS_BACKEND",
    "image_size": "CHAOS_IMAGE_SIZE",
    "pools": "CHAOS_POOLS",
    "model_dir": "CHAOS_MODEL_DIR",
    "device": "CHAOS_DEVICE",
    "steps": "CHAOS_STEPS",
    "telemetry_replay": "CHAOS_TELEMETRY_REPLAY",
    "gpu_index": "CHAOS_GPU_INDEX",
    "max_temperature": "CHAOS_MAX_TEMPERATURE",
    "workers": "CHAOS_WORKERS",
    "ray_address": "CHAOS_RAY_ADDRESS",
    "gpu_batch": "CHAOS_GPU_BATCH",
    "commit_linger": "CHAOS_COMMIT_LINGER",
    "congestion_threshold_wei": "CHAOS_CONGESTION_THRESHOLD_WEI",
    "gallery_url": "CHAOS_GALLERY_URL",
}


def from_environment(environ: dict[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values = {}
    for name, variable in _ENV.items():
        raw = environ.get(variable)
        if raw in (None, ""):
            continue
        kind = types[name]
        try:
            if kind in ("int", "int | None"):
                values[name] = int(raw)
            elif kind == "float":
                values[name] = float(raw)
            elif "Path" in kind:
                values[name] = Path(raw)
            else:
                values[name] = raw
        except ValueError:
            raise SetupError(f"{variable}={raw!r} is not a {'number' if kind == 'float' else 'whole number'}") from None
    return Settings(**values)

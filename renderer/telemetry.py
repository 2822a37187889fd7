"""GPU telemetry at render time: sampled with NVML, replayed from a file, or absent.

A render takes one `Reading` as an input like any other; its metadata records the sample and
where it came from, so a render can be repeated from its metadata alone:

    source "nvml"    sampled from the GPU with pynvml (package nvidia-ml-py) at render time;
                     origin names the GPU ("GPU 0: NVIDIA H100 80GB HBM3")
    source "replay"  read from a JSON-lines file, one sample per line, in order, starting over
                     at the end; origin names the file and line ("hot.jsonl:3")
    source "absent"  no telemetry; origin says why (no NVIDIA driver, NVML error, ...)

Every value is an integer in the unit its name says (NVML's own units), or null when the
board does not report it:

    temperature_c       GPU core temperature, degrees Celsius
    memory_used_bytes   device memory in use
    memory_total_bytes  device memory in all
    power_mw            board power draw, milliwatts
    power_limit_mw      enforced power limit, milliwatts
    utilisation_pct     GPU busy share over NVML's last sample period, percent

A replay line is a JSON object with any of these keys (floats are rounded to the nearest
integer, halves to even); blank lines and lines starting with `#` are skipped.

NVML numbers GPUs by PCI order and ignores CUDA_VISIBLE_DEVICES: pass the NVML index of the
GPU the renderer uses.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Protocol

from .errors import SetupError


@dataclass(frozen=True)
class Sample:
    temperature_c: int | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    power_mw: int | None = None
    power_limit_mw: int | None = None
    utilisation_pct: int | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, values: dict) -> Sample:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown telemetry field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        clean = {}
        for name, value in values.items():
            if value is None:
                clean[name] = None
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"telemetry field {name} must be a number or null, not {value!r}")
            else:
                clean[name] = int(round(value))
        return cls(**clean)


@dataclass(frozen=True)
class Reading:
    """One telemetry sample and where it came from: a render's input."""

    source: str  # "nvml", "replay" or "absent"
    sample: Sample | None
    origin: str | None = None

    def to_provenance(self) -> dict:
        return {"source": self.source, "origin": self.origin,
                "sample": self.sample.to_json() if self.sample else None}

    @classmethod
    def from_provenance(cls, block: dict | None) -> Reading:
        """The reading a metadata file's `provenance.telemetry` records (to render it again)."""
        if not block:
            return ABSENT
        sample = block.get("sample")
        return cls(block["source"], Sample.from_json(sample) if sample else None, block.get("origin"))


ABSENT = Reading("absent", None, None)


class TelemetrySource(Protocol):
    def sample(self) -> Reading: ...


class AbsentTelemetry:
    def __init__(self, reason: str | None = None):
        self.reading = Reading("absent", None, reason)

    def sample(self) -> Reading:
        return self.reading


class ReplayTelemetry:
    """Samples from a JSON-lines file, in order, starting over after the last."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SetupError(f"cannot read the telemetry replay file {self.path}: {exc.strerror}") from None
        self.samples: list[tuple[int, Sample]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                values = json.loads(line)
                if not isinstance(values, dict):
                    raise ValueError("a line must be a JSON object")
                self.samples.append((number, Sample.from_json(values)))
            except ValueError as exc:
                raise SetupError(f"{self.path}:{number}: not a telemetry sample: {exc}") from None
        if not self.samples:
            raise SetupError(f"{self.path} holds no telemetry samples (one JSON object per line)")
        self._next = 0

    def sample(self) -> Reading:
        number, sample = self.samples[self._next % len(self.samples)]
        self._next += 1
        return Reading("replay", sample, f"{self.path.name}:{number}")


class NvmlTelemetry:
    """Live samples of one GPU through NVML. Construct with `open_telemetry`, which falls back to absent."""

    def __init__(self, index: int = 0, nvml=None):
        if nvml is None:
            import pynvml as nvml  # package nvidia-ml-py
        self.nvml = nvml
        nvml.nvmlInit()  # raises NVMLError_LibraryNotFound without an NVIDIA driver
        self.index = index
        self.handle = nvml.nvmlDeviceGetHandleByIndex(index)
        name = nvml.nvmlDeviceGetName(self.handle)
        self.name = name.decode() if isinstance(name, bytes) else str(name)

    def _read(self, call, *args):
        """One NVML value, or None where the board does not report it (power on some boards)."""
        try:
            return call(self.handle, *args)
        except self.nvml.NVMLError_NotSupported:
            return None

    def sample(self) -> Reading:
        nvml = self.nvml
        try:
            memory = self._read(nvml.nvmlDeviceGetMemoryInfo)
            rates = self._read(nvml.nvmlDeviceGetUtilizationRates)
            sample = Sample(
                temperature_c=self._read(nvml.nvmlDeviceGetTemperature, nvml.NVML_TEMPERATURE_GPU),
                memory_used_bytes=None if memory is None else int(memory.used),
                memory_total_bytes=None if memory is None else int(memory.total),
                power_mw=self._read(nvml.nvmlDeviceGetPowerUsage),
                power_limit_mw=self._read(nvml.nvmlDeviceGetEnforcedPowerLimit),
                utilisation_pct=None if rates is None else int(rates.gpu))
        except nvml.NVMLError as exc:
            # A GPU that stops answering must not stop the render: it goes on without telemetry.
            return Reading("absent", None, f"NVML error on GPU {self.index}: {exc}")
        return Reading("nvml", sample, f"GPU {self.index}: {self.name}")


def open_telemetry(replay: Path | None = None, device_index: int = 0, nvml=None) -> TelemetrySource:
    """Where the daemon's readings come from: the replay file if given, else NVML, else absent."""
    if replay is not None:
        return ReplayTelemetry(replay)
    try:
        return NvmlTelemetry(device_index, nvml)
    except ImportError:
        return AbsentTelemetry("pynvml is not installed (pip install nvidia-ml-py)")
    except Exception as exc:  # NVMLError_* (no driver, no such GPU) share no importable base before import
        return AbsentTelemetry(f"no GPU telemetry: {type(exc).__name__}: {exc}")

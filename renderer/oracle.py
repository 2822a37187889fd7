"""The thermal oracle: when will this GPU next collapse into a Phoenix rebirth?

The model, deliberately simple so anyone can check a posted forecast from its samples:

1. Take the last N telemetry samples (default 12), `period_s` seconds apart (a replayed trace has no
   clock: its lines are read as consecutive samples that far apart, the last one being "now").
2. For each signal, fit a least-squares line value(t) = a + b*t over the samples that report it:
       temperature   temperature_c                             limit: the Phoenix threshold (85 C default)
       memory        memory_used_bytes / memory_total_bytes    limit: `memory_limit` (0.95 default: above
                                                               it the next allocation is likely to fail)
3. A signal whose fitted value at "now" is already over its limit forecasts "now"; a rising one
   forecasts the time its line crosses the limit; a flat or falling one forecasts nothing.
   The forecast is the earliest of these, if within `horizon_s` (default a day); else none (0).
   It never points less than MIN_LEAD_S (a minute) ahead: a post takes blocks to land, and the
   contract refuses a forecast already in the past.
4. Confidence (basis points) = R^2 of the deciding fit (how well a line explains its samples)
   x coverage (samples used / N). With no collapse foreseen it is the coverage alone.
5. The sample digest is keccak-256 of the samples fitted, one compact JSON object per line
   (keys sorted, "\n"-terminated), in order: a posted forecast names the data it came from.

Posting (`ThermalOracle.post`): only when the forecast changed meaningfully since the one on
chain (foreseen vs not, the expected time moved by more than max(5 min, 10% of the time left),
or the confidence moved by 10 points or more), and never before the contract's `nextPostAt()`
(the contract enforces one post per interval; checking first spares a reverted transaction).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from . import transactions
from .abi import load_abi
from .chain import attach_contract
from .errors import ChaosError
from .telemetry import Reading

log = logging.getLogger("chaos.oracle")

DEFAULT_WINDOW = 12
DEFAULT_PERIOD_S = 60
DEFAULT_MEMORY_LIMIT = 0.95
DEFAULT_HORIZON_S = 86_400
MAX_CONFIDENCE = 10_000
#: "Meaningfully changed": the expected time moved by more than this many seconds ...
MIN_SHIFT_S = 300
#: ... or by more than this share of the time left before it ...
MIN_SHIFT_SHARE = 0.10
#: ... or the confidence moved by at least this many basis points.
MIN_CONFIDENCE_SHIFT = 1_000
#: The nearest a forecast points: "already over" and "in 10 s" become "within the minute".
MIN_LEAD_S = 60


def oracle_abi() -> list[dict]:
    return load_abi("ThermalOracle")


@dataclass(frozen=True)
class Fit:
    """One signal's least-squares line over the samples: value(t) = intercept + slope * t."""

    signal: str
    unit: str
    limit: float
    points: int
    first: float
    last: float
    slope_per_s: float
    intercept: float
    r_squared: float
    #: Seconds from "now" until the line reaches the limit (0: already over); None: never.
    crosses_in_s: float | None

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Forecast:
    expected_at: int  # unix seconds; 0 when no collapse is foreseen within the horizon
    confidence: int  # basis points
    sample_digest: bytes
    now: int
    fits: tuple[Fit, ...]
    deciding: str | None  # the signal that sets expected_at
    source: str  # "replay", "nvml" or "absent"
    origin: str  # where the samples came from, in words
    samples: int
    window: int
    period_s: int
    inputs: dict = field(default_factory=dict)

    @property
    def foreseen(self) -> bool:
        return self.expected_at != 0

    def to_json(self) -> dict:
        return {"expected_at": self.expected_at, "confidence_bps": self.confidence,
                "sample_digest": "0x" + self.sample_digest.hex(), "now": self.now, "deciding": self.deciding,
                "source": self.source, "origin": self.origin, "samples": self.samples, "window": self.window,
                "period_s": self.period_s, "fits": [f.to_json() for f in self.fits], "inputs": self.inputs}


def line_fit(ts: list[float], ys: list[float]) -> tuple[float, float, float]:
    """(intercept, slope, R^2) of the least-squares line through (ts, ys); R^2 = 1 for a perfect or flat fit."""
    n = len(ts)
    mean_t, mean_y = sum(ts) / n, sum(ys) / n
    stt = sum((t - mean_t) ** 2 for t in ts)
    sty = sum((t - mean_t) * (y - mean_y) for t, y in zip(ts, ys))
    slope = sty / stt if stt else 0.0
    intercept = mean_y - slope * mean_t
    syy = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - intercept - slope * t) ** 2 for t, y in zip(ts, ys))
    r_squared = 1.0 - residual / syy if syy else 1.0
    return intercept, slope, max(0.0, min(1.0, r_squared))


def _fit(signal: str, unit: str, limit: float, points: list[tuple[float, float]]) -> Fit | None:
    if len(points) < 2:
        return None
    ts, ys = [p[0] for p in points], [p[1] for p in points]
    intercept, slope, r_squared = line_fit(ts, ys)
    now_value = intercept  # t = 0 is "now": the last sample
    if now_value >= limit:
        crosses = 0.0
    elif slope > 0:
        crosses = (limit - now_value) / slope
    else:
        crosses = None
    return Fit(signal, unit, limit, len(points), ys[0], ys[-1], slope, intercept, r_squared, crosses)


def sample_digest(readings: list[Reading]) -> bytes:
    lines = "".join(json.dumps(r.sample.to_json() if r.sample else None, sort_keys=True, separators=(",", ":"))
                    + "\n" for r in readings)
    return keccak(lines.encode())


def forecast(readings: list[Reading], now: int, *, max_temperature_c: float = 85,
             memory_limit: float = DEFAULT_MEMORY_LIMIT, period_s: int = DEFAULT_PERIOD_S,
             window: int = DEFAULT_WINDOW, horizon_s: int = DEFAULT_HORIZON_S) -> Forecast:
    """The forecast from the last `window` readings (oldest first), the last taken at `now`."""
    if window < 2:
        raise ChaosError(f"the oracle needs a window of at least 2 samples, not {window}")
    if period_s <= 0:
        raise ChaosError(f"the sample period must be positive, not {period_s} s")
    used = readings[-window:]
    n = len(used)
    temperature, memory = [], []
    for i, reading in enumerate(used):
        t = -(n - 1 - i) * period_s  # seconds relative to now
        s = reading.sample
        if s is None:
            continue
        if s.temperature_c is not None:
            temperature.append((t, float(s.temperature_c)))
        if s.memory_used_bytes is not None and s.memory_total_bytes:
            memory.append((t, s.memory_used_bytes / s.memory_total_bytes))
    fits = tuple(f for f in (_fit("temperature", "C", float(max_temperature_c), temperature),
                             _fit("memory", "share", memory_limit, memory)) if f is not None)
    coverage = min(1.0, n / window)
    crossing = [f for f in fits if f.crosses_in_s is not None and f.crosses_in_s <= horizon_s]
    if crossing:
        deciding = min(crossing, key=lambda f: f.crosses_in_s)
        expected_at = now + max(MIN_LEAD_S, round(deciding.crosses_in_s))
        confidence = round(MAX_CONFIDENCE * deciding.r_squared * coverage)
        deciding_name = deciding.signal
    else:
        expected_at, deciding_name = 0, None
        confidence = round(MAX_CONFIDENCE * coverage) if fits else 0
    sources = {r.source for r in used} or {"absent"}
    source = "replay" if "replay" in sources else ("nvml" if "nvml" in sources else "absent")
    origins = [r.origin for r in used if r.origin]
    if source == "replay" and origins:
        origin = (f"a replayed trace ({origins[0]} .. {origins[-1]}), not a GPU: its lines read as samples "
                  f"{period_s} s apart")
    elif source == "nvml" and origins:
        origin = f"live NVML samples of {origins[-1]}"
    else:
        origin = f"no telemetry ({origins[-1] if origins else 'no samples'}): nothing to fit"
    return Forecast(expected_at, min(MAX_CONFIDENCE, confidence), sample_digest(used), now, fits, deciding_name,
                    source, origin, n, window, period_s,
                    {"max_temperature_c": max_temperature_c, "memory_limit": memory_limit, "horizon_s": horizon_s})


# --------------------------------------------------------------------------- chain


@dataclass(frozen=True)
class OnChain:
    expected_at: int
    confidence: int
    posted_at: int
    sample_digest: bytes
    next_post_at: int


def open_oracle(w3: Web3, address: str | None):
    if not address:
        raise ChaosError("no thermal oracle address: give --oracle ADDRESS or set CHAOS_ORACLE "
                         "(`chaos deploy` records it as \"oracle\")")
    return attach_contract(w3, address, "ThermalOracle", "--oracle")


def read_on_chain(oracle) -> OnChain:
    expected_at, confidence, posted_at, digest = oracle.functions.latest().call()
    return OnChain(expected_at, confidence, posted_at, bytes(digest), oracle.functions.nextPostAt().call())


def why_not_post(new: Forecast, old: OnChain, now: int) -> str | None:
    """None when `new` should be posted; else the reason to keep the forecast on chain."""
    if old.next_post_at and now < old.next_post_at:
        return f"the oracle takes one post per interval: next at {old.next_post_at} (in {old.next_post_at - now} s)"
    if old.posted_at == 0:
        return None
    if new.foreseen != (old.expected_at != 0):
        return None
    if abs(new.confidence - old.confidence) >= MIN_CONFIDENCE_SHIFT:
        return None
    if new.foreseen:
        shift = abs(new.expected_at - old.expected_at)
        if shift > max(MIN_SHIFT_S, MIN_SHIFT_SHARE * max(0, old.expected_at - now)):
            return None
        return f"unchanged: the expected time moved {shift} s and the confidence {new.confidence - old.confidence} bps"
    return "unchanged: still no collapse foreseen"


def post_if_changed(w3: Web3, oracle, account: LocalAccount, new: Forecast) -> tuple[str | None, str | None]:
    """Post `new` when it changed meaningfully: (transaction hash, None) or (None, why not)."""
    now = w3.eth.get_block("latest")["timestamp"]
    reason = why_not_post(new, read_on_chain(oracle), now)
    if reason:
        return None, reason
    receipt = transactions.transact(w3, account, oracle.functions.post(new.expected_at, new.confidence,
                                                                       new.sample_digest))
    return receipt["transactionHash"].to_0x_hex(), None


def collect(source, count: int, every_s: float, sleep=time.sleep) -> list[Reading]:
    """`count` readings from a telemetry source: a replay is read straight through; NVML waits
    `every_s` between samples (the model's period)."""
    readings = []
    for i in range(count):
        if i and getattr(source, "samples", None) is None:  # a live source: real time between samples
            sleep(every_s)
        readings.append(source.sample())
        if readings[-1].source == "absent":
            break  # no GPU to wait for: one reading says why
    return readings


def replay_tail(source, count: int) -> list[Reading]:
    """The last `count` samples of a replayed trace (in file order): the state it ends in."""
    readings = [source.sample() for _ in source.samples]
    return readings[-count:]


# ----------------------------------------------------------------------- explain


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "never on this trend"
    if seconds <= 0:
        return "already over"
    return f"in {seconds / 60:.1f} min" if seconds < 7200 else f"in {seconds / 3600:.1f} h"


def _value(fit: Fit, value: float) -> str:
    return f"{value:.1f} C" if fit.unit == "C" else f"{100 * value:.1f}%"


def explain(f: Forecast, on_chain: OnChain | None = None, oracle_address: str | None = None) -> str:
    lines = [f"thermal forecast from {f.origin}",
             f"  model: least-squares line over the last {f.samples} of {f.window} samples, {f.period_s} s apart; "
             f"limits {f.inputs['max_temperature_c']} C and {100 * f.inputs['memory_limit']:.0f}% of memory; "
             f"horizon {f.inputs['horizon_s'] // 3600} h"]
    for fit in f.fits:
        rate = fit.slope_per_s * 60
        rate_text = f"{rate:+.2f} C/min" if fit.unit == "C" else f"{100 * rate:+.2f} %/min"
        lines.append(f"  {fit.signal:<11} {_value(fit, fit.first)} -> {_value(fit, fit.last)} over {fit.points} "
                     f"samples, {rate_text} (R^2 {fit.r_squared:.3f}); limit {_value(fit, fit.limit)} "
                     f"{_when(fit.crosses_in_s)}")
    if not f.fits:
        lines.append("  no temperature or memory readings to fit")
    if f.foreseen:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(f.expected_at))
        lines.append(f"  next Phoenix event expected at {f.expected_at} ({when}, "
                     f"in {(f.expected_at - f.now) / 60:.1f} min), set by {f.deciding}; "
                     f"confidence {f.confidence / 100:.1f}%")
    else:
        lines.append(f"  no Phoenix event foreseen within the horizon; confidence {f.confidence / 100:.1f}% "
                     "(share of the window filled)")
    lines.append(f"  sample digest 0x{f.sample_digest.hex()}")
    if on_chain is not None:
        where = f"ThermalOracle {oracle_address}" if oracle_address else "the oracle"
        if on_chain.posted_at == 0:
            lines.append(f"  on chain ({where}): nothing posted yet")
        else:
            expected = on_chain.expected_at or "none foreseen"
            lines.append(f"  on chain ({where}): expected {expected}, confidence {on_chain.confidence / 100:.1f}%, "
                         f"posted at {on_chain.posted_at}, digest 0x{on_chain.sample_digest.hex()}; "
                         f"next post allowed at {on_chain.next_post_at}")
    return "\n".join(lines)


# ------------------------------------------------------------------------ daemon


class OracleReporter:
    """The daemon's thermal-oracle stage: keeps the last `window` samples of its own telemetry source
    (never the renders' one: sampling it would shift which replayed sample each render gets), and at
    most once per `period_s` fits a forecast and posts it when it changed meaningfully.

    NVML is sampled once per `period_s`, so the first forecast comes after two periods; a replayed
    trace is read whole at once (its tail is the window) and forecast on the first pass."""

    def __init__(self, w3: Web3, oracle, account: LocalAccount, source, *, max_temperature_c: float = 85,
                 memory_limit: float = DEFAULT_MEMORY_LIMIT, period_s: int = DEFAULT_PERIOD_S,
                 window: int = DEFAULT_WINDOW, horizon_s: int = DEFAULT_HORIZON_S, clock=time.monotonic):
        from collections import deque

        self.w3, self.oracle, self.account, self.source = w3, oracle, account, source
        self.options = {"max_temperature_c": max_temperature_c, "memory_limit": memory_limit, "period_s": period_s,
                        "window": window, "horizon_s": horizon_s}
        self.period_s = period_s
        self.clock = clock
        self.readings: deque[Reading] = deque(maxlen=window)
        self._next_sample = self._next_fit = float("-inf")
        if getattr(source, "samples", None) is not None:
            self.readings.extend(replay_tail(source, window))
            self._next_sample = float("inf")
        self.last: Forecast | None = None

    def report(self) -> int:
        """One pass: sample if due, forecast and post if due; returns 1 when a forecast was posted."""
        now = self.clock()
        if now >= self._next_sample:
            self.readings.append(self.source.sample())
            self._next_sample = now + self.period_s
        if len(self.readings) < 2 or now < self._next_fit:
            return 0
        self._next_fit = now + self.period_s
        chain_now = self.w3.eth.get_block("latest")["timestamp"]
        self.last = forecast(list(self.readings), chain_now, **self.options)
        try:
            tx, reason = post_if_changed(self.w3, self.oracle, self.account, self.last)
        except ChaosError as exc:  # a reverted or unsent post: tried again next period
            log.warning("oracle: forecast not posted: %s", exc)
            return 0
        if tx:
            log.info("oracle: posted forecast %s (confidence %d bps) from %s (tx %s)", self.last.expected_at or "none",
                     self.last.confidence, self.last.source, tx, extra={"event": "oracle-posted", "tx": tx})
            return 1
        log.debug("oracle: forecast kept off chain: %s", reason)
        return 0

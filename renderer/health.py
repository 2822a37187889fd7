"""Outages of the nodes the daemon depends on: one log line per change, backoff with jitter."""

from __future__ import annotations

import logging
import random
import time


def backoff_delay(failures: int, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, so many daemons
    that lost the same node do not all come back in the same instant."""
    ceiling = min(cap, base * 2 ** failures)
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


class Health:
    """Up/down state per dependency ("rpc", "ipfs"), logged only when it changes."""

    def __init__(self, log: logging.Logger):
        self.log = log
        self.down_since: dict[str, float] = {}
        self.last_error: dict[str, str] = {}

    def down(self, component: str, error: Exception) -> None:
        self.last_error[component] = str(error)
        if component not in self.down_since:
            self.down_since[component] = time.monotonic()
            self.log.warning("%s unreachable, retrying with backoff: %s", component, error,
                             extra={"event": "outage", "component": component})

    def up(self, component: str) -> None:
        since = self.down_since.pop(component, None)
        if since is not None:
            self.log.info("%s reachable again after %.1f s", component, time.monotonic() - since,
                          extra={"event": "recovered", "component": component})

    @property
    def degraded(self) -> bool:
        return bool(self.down_since)

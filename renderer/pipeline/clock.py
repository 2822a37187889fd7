"""CPU time per stage: where an event's cost goes (`chaos bench load` prints it).

Thread CPU time (`time.thread_time`), so a benchmark's load generator running in
another thread of the same process is not counted, and other processes loading
the machine distort it far less than wall time. Nested measurements are
exclusive: time spent in the store inside the commit stage counts as "store".
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager


class StageClock:
    def __init__(self):
        self.cpu: dict[str, float] = defaultdict(float)
        self._stack: list[list] = []  # [label, cpu at (re)start]

    @contextmanager
    def measure(self, label: str):
        now = time.thread_time()
        if self._stack:
            outer = self._stack[-1]
            self.cpu[outer[0]] += now - outer[1]
        self._stack.append([label, now])
        try:
            yield
        finally:
            now = time.thread_time()
            inner = self._stack.pop()
            self.cpu[inner[0]] += now - inner[1]
            if self._stack:
                self._stack[-1][1] = now

    def add(self, label: str, seconds: float) -> None:
        """CPU time measured elsewhere (a Ray worker's, returned with its result)."""
        self.cpu[label] += seconds


class NoClock:
    """The daemon's default: measures nothing, costs one call."""

    @contextmanager
    def measure(self, label: str):
        yield

    def add(self, label: str, seconds: float) -> None:
        pass

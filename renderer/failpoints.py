"""Fail points: named places where a test can kill the daemon on purpose.

`CHAOS_FAILPOINT=after-pin chaos daemon` dies with SIGKILL (no cleanup, no
flush: what `kill -9` or a power cut does) the first time it passes the point
named `after-pin`. The crash-safety tests use one per stage to prove a restart
loses nothing and commits nothing twice. Unset, a fail point costs one dict look-up.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after-read", "after-render", "after-pin", "after-send", "before-receipt")


def failpoint(name: str) -> None:
    if os.environ.get("CHAOS_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)

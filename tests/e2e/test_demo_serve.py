"""`chaos demo --serve`: after the demo the gallery, the daemon, Anvil and IPFS keep running until
Ctrl-C; then every one of them is gone."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import psutil
import pytest

from renderer.devtools.demo import SERVING, _StopSignals
from renderer.project import PROJECT_ROOT


def test_sigterm_and_sigint_only_set_the_stop_event_and_the_old_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with _StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
        stop.clear()
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def _wait_for(lines: queue.Queue, pattern: str, seen: list[str], timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"no line matching {pattern!r}; the output:\n{''.join(seen[-60:])}")


def _get(url: str):
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.status, response.read()


@pytest.mark.e2e
def test_demo_serve_keeps_the_gallery_up_until_ctrl_c_then_stops_everything(tmp_path):
    demo = subprocess.Popen([sys.executable, "-m", "renderer.cli", "demo", "--serve", "--out", str(tmp_path)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(demo.stdout, lines), daemon=True).start()
    seen: list[str] = []
    node_pids: list[int] = []
    try:
        nodes = _wait_for(lines, r"Anvil at \S+ \(pid (\d+)\), IPFS API at \S+ \(pid (\d+)\)", seen, 600)
        node_pids = [int(nodes.group(1)), int(nodes.group(2))]
        url = _wait_for(lines, re.escape(SERVING) + r"(http://127\.0\.0\.1:\d+)/", seen, 60).group(1)
        assert all(psutil.pid_exists(pid) for pid in node_pids)

        status, page = _get(f"{url}/")
        assert status == 200 and b"<html" in page.lower()
        status, body = _get(f"{url}/api/tokens/1")
        token = json.loads(body)
        assert status == 200 and token["token_id"] == 1
        # The demo's metadata links the gallery it serves, and carries its evolution.
        summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
        final = json.loads((PROJECT_ROOT / summary["tokens"][0]["generations"][-1]["metadata_path"]).read_text())
        assert final["external_url"] == f"{url}/#/token/1"
        assert final["animation_url"].startswith("ipfs://")

        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0, "".join(seen[-40:])
        for pid in node_pids:
            deadline = time.monotonic() + 10
            while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE \
                    and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
        with pytest.raises(OSError):
            _get(f"{url}/api/config")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        for pid in node_pids:  # the nodes die with their parent; make sure, even when the test failed
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

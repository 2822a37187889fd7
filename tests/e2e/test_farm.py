"""Render workers on Ray, on real nodes: results, a worker killed mid-render, a lost cluster node.

Ray binds to the loopback address only, keeps its folders and its auth token under the
test's tmp folder (never ~/.ray), and everything a test starts is stopped by it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from renderer import wallet
from renderer.daemon import open_daemon
from renderer.nodes import PROJECT_ROOT

from .helpers import COLLECTOR, RENDERER, SECOND, commits_of

pytestmark = pytest.mark.e2e


def _mint_and_transfer(canvas, mints: int, transfers_each: int) -> dict[int, int]:
    """Tokens with their newest generation."""
    newest = {}
    for i in range(mints):
        token_id, _ = wallet.mint(canvas, COLLECTOR, f"farm piece {i}")
        owner, other = COLLECTOR, SECOND
        for _ in range(transfers_each):
            wallet.transfer(canvas, owner, token_id, other.address)
            owner, other = other, owner
        newest[token_id] = transfers_each
    return newest


def _all_settled(daemon, newest):
    def done() -> bool:
        for token_id, last in newest.items():
            jobs = [daemon.store.job(token_id, g) for g in range(last + 1)]
            if any(j is None for j in jobs) or jobs[-1].state != "committed":
                return False
            if any(j.state not in ("committed", "covered") for j in jobs):
                return False
        return True
    return done


def _assert_exactly_once(canvas, daemon, newest):
    for token_id, last in newest.items():
        commits = commits_of(canvas, token_id)
        generations = [g for g, _ in commits]
        assert generations == sorted(set(generations)) and generations[-1] == last  # once each, in order
        for generation, cid in commits:
            assert daemon.store.job(token_id, generation).metadata_cid == cid
        for generation in range(last + 1):
            job = daemon.store.job(token_id, generation)
            assert job.state == ("committed" if generation in generations else "covered")


def test_ray_workers_render_pin_and_the_coordinator_commits(canvas, settings):
    newest = _mint_and_transfer(canvas, mints=3, transfers_each=2)
    daemon = open_daemon(replace(settings, workers=2), RENDERER)
    try:
        assert len(set(daemon.renders.pids)) == 2 and os.getpid() not in daemon.renders.pids
        daemon.run(until=_all_settled(daemon, newest), poll_interval=0.05, timeout=120)
        _assert_exactly_once(canvas, daemon, newest)
        # The worker pinned, the coordinator wrote the same bytes: the CIDs agree.
        job = daemon.store.job(next(iter(newest)), 0)
        from renderer.cid import file_cid
        assert file_cid(open(job.image_path, "rb").read()) == job.image_cid
    finally:
        daemon.close()


def test_inline_daemon_never_imports_ray(settings, canvas):
    wallet.mint(canvas, COLLECTOR, "no ray here")
    script = ("import sys; from renderer.cli import main; code = main(['daemon', '--once']); "
              "assert 'ray' not in sys.modules, 'ray was imported'; sys.exit(code)")
    env = {**os.environ, "CHAOS_RPC_URL": settings.rpc_url, "CHAOS_CANVAS": settings.canvas,
           "CHAOS_RENDERER_KEY": RENDERER.key.hex(), "CHAOS_IPFS_API": settings.ipfs_api,
           "CHAOS_OUT": str(settings.out_dir), "CHAOS_START_BLOCK": str(settings.start_block),
           "CHAOS_IMAGE_SIZE": "64"}
    env.pop("CHAOS_WORKERS", None)
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_worker_killed_mid_render_is_redone_and_committed_exactly_once(canvas, settings, caplog):
    # 512 px mints take most of a second: long enough to kill the worker while it renders.
    newest = _mint_and_transfer(canvas, mints=4, transfers_each=1)
    daemon = open_daemon(replace(settings, workers=1, image_size=512, in_flight_per_slot=1), RENDERER)
    errors = []

    def drive():
        try:
            daemon.run(until=_all_settled(daemon, newest), poll_interval=0.05, timeout=180)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=drive, daemon=True)
    try:
        with caplog.at_level(logging.INFO, logger="chaos.daemon"):
            thread.start()
            deadline = time.monotonic() + 60
            while not daemon.renders.calls and time.monotonic() < deadline:
                time.sleep(0.01)
            assert daemon.renders.calls, "no render was handed to the worker"
            time.sleep(0.2)  # well inside the render
            (victim,) = daemon.renders.pids
            os.kill(victim, signal.SIGKILL)
            thread.join(180)
        assert not errors and not thread.is_alive()
        assert any("lost a call" in r.message for r in caplog.records)  # the kill landed mid-render
        _assert_exactly_once(canvas, daemon, newest)
    finally:
        daemon.close()
        thread.join(10)

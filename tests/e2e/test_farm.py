"""Render workers on Ray, on real nodes: results, a worker killed mid-render, a lost cluster node.

Ray binds to the loopback address only, keeps its folders and its auth token under the
test's tmp folder (never ~/.ray), and everything a test starts is stopped by it.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from renderer import wallet
from renderer.cid import file_cid
from renderer.daemon import open_daemon
from renderer.project import PROJECT_ROOT
from renderer.devtools.nodes import free_port
from renderer.pipeline.farm import temp_link
from renderer.store import JobStore

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


def _assert_exactly_once(canvas, store, newest):
    for token_id, last in newest.items():
        commits = commits_of(canvas, token_id)
        generations = [g for g, _ in commits]
        assert generations == sorted(set(generations)) and generations[-1] == last  # once each, in order
        for generation, cid in commits:
            assert store.job(token_id, generation).metadata_cid == cid
        for generation in range(last + 1):
            job = store.job(token_id, generation)
            assert job.state == ("committed" if generation in generations else "covered")


def test_ray_workers_render_pin_and_the_coordinator_commits(canvas, settings):
    home_token = Path.home() / ".ray" / "auth_token"
    had_home_token = home_token.exists()
    newest = _mint_and_transfer(canvas, mints=3, transfers_each=2)
    daemon = open_daemon(replace(settings, workers=2), RENDERER)
    try:
        assert len(set(daemon.renders.pids)) == 2 and os.getpid() not in daemon.renders.pids
        daemon.run(until=_all_settled(daemon, newest), poll_interval=0.05, timeout=120)
        _assert_exactly_once(canvas, daemon.store, newest)
        # The worker pinned, the coordinator wrote the same bytes: the CIDs agree.
        job = daemon.store.job(next(iter(newest)), 0)
        assert file_cid(open(job.image_path, "rb").read()) == job.image_cid
    finally:
        daemon.close()
    assert home_token.exists() == had_home_token  # the token lives under --out


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
        _assert_exactly_once(canvas, daemon.store, newest)
    finally:
        daemon.close()
        thread.join(10)


def _ours(markers: list[str]) -> list:
    """Processes of the test's Ray cluster: their command lines name its temp folder or its GCS port."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if any(marker in cmdline for marker in markers):
            found.append(process)
    return found


@pytest.fixture
def two_node_cluster(tmp_path):
    """A head node and a second node, as separate `ray start` processes on the loopback address,
    with token auth from a file under the test's folders. Everything is stopped at teardown."""
    temp = tempfile.mkdtemp(prefix="chaos-ray-")  # short: Ray's socket paths are limited to 107 bytes
    token = tmp_path / "ray-token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    port, second_port = free_port(), free_port()
    ray = str(PROJECT_ROOT / ".venv" / "bin" / "ray") if (PROJECT_ROOT / ".venv" / "bin" / "ray").exists() else "ray"
    common = ["--node-ip-address=127.0.0.1", "--disable-usage-stats", "--num-cpus=2"]
    markers = [temp, f"127.0.0.1:{port}"]
    try:
        subprocess.run([ray, "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}",
                        *common], env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([ray, "start", f"--address=127.0.0.1:{port}", f"--node-manager-port={second_port}",
                        *common], env=env, check=True, capture_output=True, timeout=120)
        yield {"address": f"127.0.0.1:{port}", "env": env, "second_raylet_port": second_port}
    finally:
        for process in _ours(markers):
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        shutil.rmtree(temp, ignore_errors=True)


def _second_raylet(port: int):
    (raylet,) = [p for p in _ours([f"--node_manager_port={port}"]) if "raylet" in " ".join(p.cmdline())]
    return raylet


def test_a_lost_cluster_node_leaves_every_event_committed_exactly_once(canvas, settings, two_node_cluster):
    newest = _mint_and_transfer(canvas, mints=8, transfers_each=2)
    env = {**two_node_cluster["env"], "CHAOS_RPC_URL": settings.rpc_url, "CHAOS_CANVAS": settings.canvas,
           "CHAOS_RENDERER_KEY": RENDERER.key.hex(), "CHAOS_IPFS_API": settings.ipfs_api,
           "CHAOS_OUT": str(settings.out_dir), "CHAOS_START_BLOCK": str(settings.start_block),
           "CHAOS_IMAGE_SIZE": "384"}
    daemon = subprocess.Popen([sys.executable, "-m", "renderer.cli", "daemon", "--once", "--workers", "2",
                               "--ray-address", two_node_cluster["address"]], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        raylet = _second_raylet(two_node_cluster["second_raylet_port"])
        deadline = time.monotonic() + 90
        # Kill the node once one of the daemon's render actors runs on it (a child of its raylet).
        while not any("RenderWorker" in " ".join(c.cmdline()) for c in raylet.children()):
            assert time.monotonic() < deadline and daemon.poll() is None, "no render actor on the second node"
            time.sleep(0.05)
        time.sleep(0.5)
        raylet.kill()
        output, _ = daemon.communicate(timeout=240)
        assert daemon.returncode == 0, output[-3000:]
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    store = JobStore(settings.db_path, canvas.chain_id, canvas.address)
    try:
        _assert_exactly_once(canvas, store, newest)
    finally:
        store.close()
    assert "lost a call" in output


def test_a_local_ray_keeps_its_token_under_out_never_in_home(settings):
    from renderer.pipeline.farm import local_auth_token

    token = local_auth_token(settings.out_dir / "ray-auth")
    assert token.stat().st_mode & 0o777 == 0o600 and len(token.read_text()) == 64
    assert local_auth_token(settings.out_dir / "ray-auth").read_text() == token.read_text()  # created once


@pytest.mark.parametrize("point", ["after-pin", "after-send"])
def test_kill_9_of_a_daemon_with_workers_then_restart_commits_exactly_once(canvas, settings, point):
    newest = _mint_and_transfer(canvas, mints=2, transfers_each=1)
    env = {**os.environ, "CHAOS_RPC_URL": settings.rpc_url, "CHAOS_CANVAS": settings.canvas,
           "CHAOS_RENDERER_KEY": RENDERER.key.hex(), "CHAOS_IPFS_API": settings.ipfs_api,
           "CHAOS_OUT": str(settings.out_dir), "CHAOS_START_BLOCK": str(settings.start_block),
           "CHAOS_IMAGE_SIZE": "64", "CHAOS_WORKERS": "1"}
    command = [sys.executable, "-m", "renderer.cli", "daemon", "--once", "--workers", "1"]
    first = subprocess.run(command, cwd=PROJECT_ROOT, env={**env, "CHAOS_FAILPOINT": point}, capture_output=True,
                           text=True, timeout=180)
    assert first.returncode == -9, first.stderr[-2000:]
    second = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr[-2000:]
    store = JobStore(settings.db_path, canvas.chain_id, canvas.address)
    try:
        _assert_exactly_once(canvas, store, newest)
    finally:
        store.close()
    # The local Ray of the killed daemon went with it (Ray reaps a dead driver's cluster).
    ray_folder = (settings.out_dir / "ray").resolve()
    assert not _ours([str(ray_folder), str(temp_link(ray_folder))])

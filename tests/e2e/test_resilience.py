"""The daemon under crashes, reorgs, outages, stuck transactions and bad input, on real nodes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from eth_abi import encode as abi_encode
from web3 import Web3

from renderer import transactions, wallet
from renderer.audit import audit_pins
from renderer.chain import connect
from renderer.daemon import open_daemon
from renderer.errors import SetupError
from renderer.failpoints import POINTS
from renderer.ipfs import Pinner, Replicas
from renderer.project import PROJECT_ROOT
from renderer.devtools.nodes import IpfsNode
from renderer.store import JobStore

from ..tcp_proxy import TcpProxy
from .helpers import COLLECTOR, RENDERER, SECOND, commits_of, committed, rpc

pytestmark = pytest.mark.e2e


def test_only_events_with_enough_confirmations_are_read(canvas, settings):
    daemon = open_daemon(replace(settings, confirmations=3), RENDERER)
    daemon.read_chain()
    token_id, _ = wallet.mint(canvas, COLLECTOR, "patience")
    daemon.read_chain()
    assert daemon.store.job(token_id, 0) is None
    rpc(canvas.w3, "anvil_mine", "0x2")
    daemon.read_chain()
    assert daemon.store.job(token_id, 0) is None  # 2 blocks deep
    rpc(canvas.w3, "anvil_mine", "0x1")
    daemon.read_chain()
    assert daemon.store.job(token_id, 0).state == "pending"  # 3 blocks deep


def test_a_reorg_rewinds_and_a_dropped_event_is_never_committed(canvas, settings, caplog):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "before the fork")
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)

    snapshot = rpc(canvas.w3, "evm_snapshot")
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)  # this history will be dropped
    daemon.read_chain(), daemon.render_ready(), daemon.pin_ready()
    dropped = daemon.store.job(token_id, 1)
    assert dropped.state == "pinned"

    rpc(canvas.w3, "evm_revert", snapshot)
    rpc(canvas.w3, "anvil_mine", "0x3")  # the new history is longer, with other hashes
    wallet.transfer(canvas, COLLECTOR, token_id, RENDERER.address)  # a different generation 1
    with caplog.at_level(logging.WARNING, logger="chaos.daemon"):
        daemon.run(until=committed(daemon, token_id, 1), poll_interval=0.1, timeout=60)
    assert any("reorg" in r.message for r in caplog.records)
    survivor = daemon.store.job(token_id, 1)
    assert survivor.event.args["to"] == RENDERER.address
    assert survivor.metadata_cid != dropped.metadata_cid
    cids = [cid for _, cid in commits_of(canvas, token_id)]
    assert dropped.metadata_cid not in cids and survivor.metadata_cid in cids


def test_a_render_of_a_dropped_event_is_held_back_at_commit_time(canvas, settings):
    """The reorg happens between reading and committing, before the daemon reads again."""
    token_id, _ = wallet.mint(canvas, COLLECTOR, "raced")
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)
    snapshot = rpc(canvas.w3, "evm_snapshot")
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    daemon.read_chain(), daemon.render_ready(), daemon.pin_ready()
    rpc(canvas.w3, "evm_revert", snapshot)
    rpc(canvas.w3, "anvil_mine", "0x3")
    daemon.commit_ready()  # commit stage alone: it must check the event's block first
    assert daemon.store.job(token_id, 1).state == "pinned"
    assert [g for g, _ in commits_of(canvas, token_id)] == [0]


def _daemon_env(settings, **extra):
    env = {**os.environ, "CHAOS_RPC_URL": settings.rpc_url, "CHAOS_CANVAS": settings.canvas,
           "CHAOS_RENDERER_KEY": RENDERER.key.hex(), "CHAOS_IPFS_API": settings.ipfs_api,
           "CHAOS_OUT": str(settings.out_dir), "CHAOS_START_BLOCK": str(settings.start_block),
           "CHAOS_IMAGE_SIZE": str(settings.image_size), **extra}
    env.pop("CHAOS_FAILPOINT", None)
    env.update(extra)
    return env


def _run_daemon_once(settings, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "renderer.cli", "daemon", "--once"], cwd=PROJECT_ROOT,
                          env=_daemon_env(settings, **extra), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_at_each_stage_then_restart_commits_every_event_exactly_once(canvas, settings, point):
    token_id, _ = wallet.mint(canvas, COLLECTOR, f"crash at {point}")
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    first = _run_daemon_once(settings, CHAOS_FAILPOINT=point)
    assert first.returncode == -9, first.stderr[-2000:]  # SIGKILL, mid-stage

    second = _run_daemon_once(settings)
    assert second.returncode == 0, second.stderr[-2000:]
    commits = commits_of(canvas, token_id)
    # Each generation at most once, in order, ending with the newest; a generation that was still
    # waiting when its child was ready may be covered by the child's commit (coalescing).
    generations = [g for g, _ in commits]
    assert generations in ([0, 1], [1])
    store = JobStore(settings.db_path, canvas.chain_id, canvas.address)
    assert store.job(token_id, 1).state == "committed"
    first = store.job(token_id, 0)
    assert first.state == ("committed" if generations == [0, 1] else "covered")
    assert first.covered_by == (None if generations == [0, 1] else 1)
    assert [cid for _, cid in commits] == [store.job(token_id, g).metadata_cid for g in generations]
    store.close()


def _run_in_thread(daemon, until):
    errors = []

    def target():
        try:
            daemon.run(until=until, poll_interval=0.1, timeout=90)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, errors


def test_an_rpc_outage_is_ridden_out_with_one_log_line_each_way(canvas, settings, anvil_node, caplog):
    proxy = TcpProxy(anvil_node.port).up()
    daemon = open_daemon(replace(settings, rpc_url=proxy.url, rpc_timeout=2), RENDERER)
    proxy.down()
    token_id, _ = wallet.mint(canvas, COLLECTOR, "during the outage")  # straight to Anvil
    with caplog.at_level(logging.INFO, logger="chaos.daemon"):
        thread, errors = _run_in_thread(daemon, committed(daemon, token_id, 0))
        time.sleep(3)
        assert daemon.store.job(token_id, 0) is None and thread.is_alive()
        proxy.up()
        thread.join(90)
    assert not errors and daemon.store.job(token_id, 0).state == "committed"
    messages = [r.message for r in caplog.records]
    assert sum("rpc unreachable" in m for m in messages) == 1
    assert sum("rpc reachable again" in m for m in messages) == 1
    proxy.down()


def test_an_ipfs_outage_is_ridden_out_and_nothing_is_lost(canvas, settings, ipfs_node, caplog):
    proxy = TcpProxy(ipfs_node.api_port).up()
    daemon = open_daemon(replace(settings, ipfs_api=proxy.multiaddr, ipfs_timeout=2), RENDERER)
    proxy.down()
    token_id, _ = wallet.mint(canvas, COLLECTOR, "no pinning for now")
    with caplog.at_level(logging.INFO, logger="chaos.daemon"):
        thread, errors = _run_in_thread(daemon, committed(daemon, token_id, 0))
        time.sleep(3)
        assert daemon.store.job(token_id, 0).state == "rendered"  # read and rendered, waiting to pin
        proxy.up()
        thread.join(90)
    assert not errors and daemon.store.job(token_id, 0).state == "committed"
    messages = [r.message for r in caplog.records]
    assert sum("ipfs unreachable" in m for m in messages) == 1
    assert sum("ipfs reachable again" in m for m in messages) == 1
    proxy.down()


def test_a_stuck_commit_is_replaced_with_higher_fees(canvas, settings):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "stuck in the mempool")
    daemon = open_daemon(replace(settings, receipt_timeout=0.5, stuck_after=1.0), RENDERER)
    daemon.read_chain(), daemon.render_ready(), daemon.pin_ready()
    rpc(canvas.w3, "evm_setAutomine", False)
    try:
        daemon.commit_ready()
        original = daemon.store.job(token_id, 0)
        assert original.state == "sent" and original.commit_tx
        time.sleep(1.1)
        daemon.commit_ready()
        replacement = daemon.store.job(token_id, 0)
        assert replacement.commit_tx != original.commit_tx
        assert replacement.commit_nonce == original.commit_nonce
        assert replacement.commit_max_fee > original.commit_max_fee
    finally:
        rpc(canvas.w3, "evm_setAutomine", True)
    rpc(canvas.w3, "evm_mine")
    daemon.commit_ready()
    job = daemon.store.job(token_id, 0)
    assert job.state == "committed" and job.commit_tx == replacement.commit_tx
    assert canvas.w3.eth.get_transaction(job.commit_tx)["maxFeePerGas"] == replacement.commit_max_fee
    assert len(commits_of(canvas, token_id)) == 1


def test_nonces_continue_across_restarts(canvas, settings):
    tokens = [wallet.mint(canvas, COLLECTOR, f"nonce {i}")[0] for i in range(2)]
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, tokens[0], 0), poll_interval=0.1, timeout=60)
    daemon.store.close()
    again = open_daemon(settings, RENDERER)
    wallet.transfer(canvas, COLLECTOR, tokens[1], SECOND.address)
    again.run(until=committed(again, tokens[1], 1), poll_interval=0.1, timeout=60)
    nonces = [canvas.w3.eth.get_transaction(again.store.job(t, g).commit_tx)["nonce"]
              for t, g in ((tokens[0], 0), (tokens[1], 1))]
    assert nonces[1] > nonces[0]


@pytest.fixture(scope="module")
def second_ipfs(tmp_path_factory):
    with IpfsNode(tmp_path_factory.mktemp("ipfs2") / "repo") as node:
        yield node


def test_replicas_and_the_pin_audit_restore_what_was_garbage_collected(canvas, settings, ipfs_node, second_ipfs):
    apis = f"{ipfs_node.api_multiaddr},{second_ipfs.api_multiaddr}"
    daemon = open_daemon(replace(settings, ipfs_api=apis), RENDERER)
    token_id, _ = wallet.mint(canvas, COLLECTOR, "kept alive")
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)
    job = daemon.store.job(token_id, 0)
    age_cid = json.loads(open(job.metadata_path).read())["provenance"]["memory"]["age_layer"]["cid"]
    replica = Pinner(second_ipfs.api_multiaddr, timeout=5)
    assert {job.metadata_cid, job.image_cid, age_cid} <= replica.pinned()

    # Someone unpins and garbage-collects the second node.
    for cid in (job.metadata_cid, job.image_cid, age_cid):
        replica.client.pin.rm(cid)
    list(replica.client.repo.gc())
    assert job.image_cid not in replica.pinned()

    replicas = Replicas(apis, timeout=5)
    dry = audit_pins(canvas, daemon.store, replicas, repair=False)
    missing = {cid for api, cid in dry.missing if api == second_ipfs.api_multiaddr}
    assert {job.metadata_cid, job.image_cid, age_cid} <= missing
    assert not any(api == ipfs_node.api_multiaddr for api, _ in dry.missing)

    fixed = audit_pins(canvas, daemon.store, replicas, repair=True)
    assert fixed.healthy and len(fixed.repaired) == len(fixed.missing) >= 3
    assert {job.metadata_cid, job.image_cid, age_cid} <= replica.pinned()
    assert replica.cat(job.image_cid) == open(job.image_path, "rb").read()
    assert not audit_pins(canvas, daemon.store, replicas, repair=False).missing


@pytest.mark.parametrize("prompt", [
    "tab\there, bell\x07, escape\x1b[31m red", "🌊🔥 emoji storm 🌈", "שלום עולם — مرحبا بالعالم",
    "x" * 280, "é" * 140,
])
def test_odd_prompts_render_and_commit(canvas, settings, prompt):
    token_id, _ = wallet.mint(canvas, COLLECTOR, prompt)
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)
    metadata = json.loads(open(daemon.store.job(token_id, 0).metadata_path, "rb").read())
    assert metadata["provenance"]["prompt"] == prompt


def test_a_prompt_of_invalid_utf8_bytes_does_not_stop_the_daemon(canvas, settings):
    raw = b"caf\xe9 \xff\xfe broken"
    selector = Web3.keccak(text="mint(string)")[:4]
    price = canvas.contract.functions.mintPrice().call()
    tx = {"to": canvas.address, "data": selector + abi_encode(["bytes"], [raw]), "value": price,
          "from": COLLECTOR.address, "chainId": canvas.chain_id, "gas": 300_000,
          "nonce": canvas.w3.eth.get_transaction_count(COLLECTOR.address),
          **{"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}}
    receipt = transactions.wait(canvas.w3, transactions.send(canvas.w3, COLLECTOR, tx))
    token_id = int.from_bytes(receipt["logs"][-1]["topics"][1], "big")
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)
    job = daemon.store.job(token_id, 0)
    assert job.event.args["prompt"] == raw.decode("utf-8", errors="replace")
    assert job.event.args["prompt_hex"] == "0x" + raw.hex()


def test_a_wrong_chain_id_is_refused(anvil_node):
    with pytest.raises(SetupError, match="serves chain 31337, not the expected 1"):
        connect(anvil_node.url, expected_chain_id=1)


def test_status_shows_cursor_jobs_and_pending_transactions(canvas, settings, capsys):
    from renderer.cli import main

    token_id, _ = wallet.mint(canvas, COLLECTOR, "observed")
    daemon = open_daemon(replace(settings, receipt_timeout=0.2, stuck_after=3600), RENDERER)
    rpc(canvas.w3, "evm_setAutomine", False)
    try:
        daemon.step()
    finally:
        rpc(canvas.w3, "evm_setAutomine", True)
    code = main(["status", "--rpc-url", settings.rpc_url, "--canvas", settings.canvas,
                 "--out", str(settings.out_dir)])
    status = json.loads(capsys.readouterr().out)
    assert code == 0 and status["next_block"] == daemon.store.next_block
    assert status["jobs"]["sent"] >= 1
    (pending,) = status["pending_transactions"]
    assert pending["tx"] == daemon.store.job(token_id, 0).commit_tx
    rpc(canvas.w3, "evm_mine")


def test_a_render_that_keeps_failing_fails_its_job_and_the_daemon_goes_on(canvas, settings):
    daemon = open_daemon(settings, RENDERER)
    damaged, _ = wallet.mint(canvas, COLLECTOR, "a parent whose file will be damaged")
    daemon.run(until=committed(daemon, damaged, 0), poll_interval=0.1, timeout=60)
    with open(daemon.store.job(damaged, 0).image_path, "wb") as image:
        image.write(b"not a PNG any more")
    wallet.transfer(canvas, COLLECTOR, damaged, SECOND.address)
    healthy, _ = wallet.mint(canvas, COLLECTOR, "a neighbour that must not wait")
    daemon.run(until=committed(daemon, healthy, 0), poll_interval=0.1, timeout=60)
    for _ in range(3):
        daemon.step()
    job = daemon.store.job(damaged, 1)
    assert job.state == "failed" and "render failed" in job.last_error and "after 3 tries" in job.last_error

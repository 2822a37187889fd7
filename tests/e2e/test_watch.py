"""`chaos watch` on real Anvil + IPFS + daemon: quiet on honest commits, the hook within one poll of a
forgery, a cursor that survives a restart, confirmations, and a reorg that rewinds."""

from __future__ import annotations

import io
import json
import shlex
import sys

import pytest

from renderer import transactions, wallet
from renderer.cli import main
from renderer.daemon import open_daemon
from renderer.ipfs import Pinner
from renderer.watch import Watchtower, WatchState

from ..tcp_proxy import TcpProxy
from .helpers import COLLECTOR, RENDERER, SECOND, committed, rpc

pytestmark = pytest.mark.e2e

#: A hook that records what it was given: its stdin and the CHAOS_* variables, one JSON line per run.
HOOK = ("import json, os, sys; open(sys.argv[1], 'a').write(json.dumps({'stdin': sys.stdin.read(), "
        "'env': {k: v for k, v in os.environ.items() if k.startswith('CHAOS_')}}) + '\\n')")


def _hook(record):
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(HOOK)} {shlex.quote(str(record))}"


def _hook_runs(record):
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def _commit(canvas, token_id, generation, cid):
    receipt = transactions.transact(canvas.w3, RENDERER, canvas.commit_call(token_id, generation, cid))
    return receipt["transactionHash"].to_0x_hex()


def _tower(canvas, ipfs_node, deployment, state_path, hook_record, confirmations=0):
    state = WatchState(state_path, canvas.chain_id, canvas.address, deployment["block"])
    output = io.StringIO()
    tower = Watchtower(canvas, Pinner(ipfs_node.api_multiaddr), state, output=output, on_forgery=_hook(hook_record),
                       confirmations=confirmations, from_block=deployment["block"])
    return tower, output


def _lines(output):
    return [json.loads(line) for line in output.getvalue().splitlines()]


def test_an_honest_stream_stays_quiet_and_a_restart_resumes(canvas, settings, ipfs_node, deployment, tmp_path):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "watched while it changes hands")
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 1), poll_interval=0.1, timeout=60)
    verdicts, state, hook = tmp_path / "verdicts.jsonl", tmp_path / "watch.sqlite", tmp_path / "hook.jsonl"
    node = ["--rpc-url", settings.rpc_url, "--canvas", settings.canvas, "--ipfs-api", settings.ipfs_api,
            "--start-block", str(deployment["block"])]

    assert main(["watch", "--once", *node, "--out", str(verdicts), "--state", str(state),
                 "--on-forgery", _hook(hook)]) == 0
    lines = [json.loads(line) for line in verdicts.read_text().splitlines()]
    mine = [(v["token_id"], v["generation"], v["status"]) for v in lines if v["token_id"] == token_id]
    assert mine == [(token_id, 0, "verified"), (token_id, 1, "verified")]
    assert all(v["status"] == "verified" for v in lines) and not hook.exists()  # quiet: no hook ran
    assert all(v["commit_tx"] and v["commit_block"] for v in lines)

    # A restart resumes from the cursor: nothing is verified twice; the next commit is verified once.
    assert main(["watch", "--once", *node, "--out", str(verdicts), "--state", str(state)]) == 0
    assert len(verdicts.read_text().splitlines()) == len(lines)
    wallet.transfer(canvas, SECOND, token_id, COLLECTOR.address)
    daemon.run(until=committed(daemon, token_id, 2), poll_interval=0.1, timeout=60)
    assert main(["watch", "--once", *node, "--out", str(verdicts), "--state", str(state)]) == 0
    new = [json.loads(line) for line in verdicts.read_text().splitlines()][len(lines):]
    assert [(v["token_id"], v["generation"], v["status"]) for v in new] == [(token_id, 2, "verified")]
    assert not hook.exists()


def test_a_forged_commit_runs_the_hook_within_one_poll(canvas, settings, ipfs_node, deployment, tmp_path):
    decoy, _ = wallet.mint(canvas, COLLECTOR, "a decoy whose CID a forger commits")
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a token the renderer's key forges")
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=lambda: committed(daemon, token_id, 0)() and committed(daemon, decoy, 0)(),
               poll_interval=0.1, timeout=60)
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    hook = tmp_path / "hook.jsonl"
    tower, output = _tower(canvas, ipfs_node, deployment, tmp_path / "watch.sqlite", hook)
    tower.poll()
    assert not hook.exists() and all(v["status"] == "verified" for v in _lines(output))

    tx = _commit(canvas, token_id, 1, daemon.store.job(decoy, 0).metadata_cid)
    (forged,) = [v for v in tower.poll() if v["status"] != "verified"]  # one poll
    assert (forged["token_id"], forged["generation"], forged["status"], forged["commit_tx"]) == \
        (token_id, 1, "forged", tx)
    (run,) = _hook_runs(hook)
    assert json.loads(run["stdin"]) == forged
    assert run["env"]["CHAOS_STATUS"] == "forged" and run["env"]["CHAOS_TOKEN_ID"] == str(token_id)
    assert run["env"]["CHAOS_GENERATION"] == "1" and run["env"]["CHAOS_COMMIT_TX"] == tx
    assert "chain-event" in run["env"]["CHAOS_FAILED_CHECKS"].split(",")
    assert tower.poll() == [] and len(_hook_runs(hook)) == 1  # verified once


def test_confirmations_and_a_reorg(canvas, settings, ipfs_node, deployment, tmp_path):
    decoy, _ = wallet.mint(canvas, COLLECTOR, "another decoy")
    token_id, _ = wallet.mint(canvas, COLLECTOR, "forged on a branch that a reorg drops")
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=lambda: committed(daemon, token_id, 0)() and committed(daemon, decoy, 0)(),
               poll_interval=0.1, timeout=60)
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    hook = tmp_path / "hook.jsonl"
    tower, output = _tower(canvas, ipfs_node, deployment, tmp_path / "watch.sqlite", hook, confirmations=2)
    rpc(canvas.w3, "evm_mine"), rpc(canvas.w3, "evm_mine")
    tower.poll()  # the module's earlier commits (and forgeries)
    runs = len(_hook_runs(hook))

    snapshot = rpc(canvas.w3, "evm_snapshot")
    _commit(canvas, token_id, 1, daemon.store.job(decoy, 0).metadata_cid)
    assert tower.poll() == [] and len(_hook_runs(hook)) == runs  # not yet buried under 2 blocks
    rpc(canvas.w3, "evm_mine"), rpc(canvas.w3, "evm_mine")
    assert [v["status"] for v in tower.poll()] == ["forged"] and len(_hook_runs(hook)) == runs + 1

    # The forged commit's branch is dropped; the honest commit lands on the new one instead.
    rpc(canvas.w3, "evm_revert", snapshot)
    daemon.run(until=committed(daemon, token_id, 1), poll_interval=0.1, timeout=60)
    for _ in range(4):
        rpc(canvas.w3, "evm_mine")
    verdicts = tower.poll()
    reorgs = [line for line in _lines(output) if line.get("event") == "reorg"]
    assert len(reorgs) == 1
    assert [(v["token_id"], v["generation"], v["status"]) for v in verdicts] == [(token_id, 1, "verified")]
    assert len(_hook_runs(hook)) == runs + 1


def test_what_ipfs_cannot_serve_is_unverifiable_then_verified_once_it_can(canvas, settings, ipfs_node, deployment,
                                                                         tmp_path):
    hook = tmp_path / "hook.jsonl"
    tower, _ = _tower(canvas, ipfs_node, deployment, tmp_path / "watch.sqlite", hook)
    tower.poll()  # the module's earlier commits
    runs = len(_hook_runs(hook))
    proxy = TcpProxy(ipfs_node.api_port).up()
    try:
        tower.ipfs = Pinner(proxy.multiaddr, timeout=2)
        token_id, _ = wallet.mint(canvas, COLLECTOR, "committed while the watch's IPFS node is away")
        daemon = open_daemon(settings, RENDERER)
        daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)
        proxy.down()
        assert [(v["token_id"], v["generation"], v["status"]) for v in tower.poll()] == \
            [(token_id, 0, "unverifiable")]
        assert tower.poll() == []  # still away: nothing new to say
        proxy.up()
        (again,) = tower.poll()
        assert (again["token_id"], again["generation"], again["status"]) == (token_id, 0, "verified")
        assert tower.poll() == [] and tower.state.retries() == [] and len(_hook_runs(hook)) == runs
    finally:
        tower.ipfs.close()
        proxy.down()

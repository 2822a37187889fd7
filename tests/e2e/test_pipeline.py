"""The whole line on real nodes: Anvil, brownie deployment, js-ipfs, the daemon."""

from __future__ import annotations

import json

import pytest
from web3 import Web3

from renderer import wallet
from renderer.chain import Canvas, connect
from renderer.daemon import open_daemon
from renderer.errors import ChainUnavailable, IpfsUnavailable, SetupError
from renderer.ipfs import Pinner
from renderer.keys import load_account
from renderer.mask import changed_indices, mutation_mask
from renderer.devtools.nodes import free_port
from renderer.png import decode_png

from .helpers import COLLECTOR, RENDERER, SECOND, commits_of, committed

pytestmark = pytest.mark.e2e


def test_deployment_record(deployment, canvas):
    assert deployment["chain_id"] == 31337
    assert Web3.is_checksum_address(deployment["canvas"])
    assert canvas.has_renderer_role(RENDERER.address)
    assert not canvas.has_renderer_role(COLLECTOR.address)


def test_mint_render_pin_commit_then_a_transfer_mutates_one_percent(canvas, settings, ipfs_node):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a storm over the harbour")
    assert canvas.token_uri(token_id).startswith("data:application/json")

    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)
    first = daemon.store.job(token_id, 0)
    assert canvas.token_uri(token_id) == f"ipfs://{first.metadata_cid}"

    # What IPFS serves is what the renderer wrote.
    pinner = Pinner(ipfs_node.api_multiaddr)
    assert pinner.cat(first.metadata_cid) == open(first.metadata_path, "rb").read()
    metadata = json.loads(pinner.cat(first.metadata_cid))
    assert metadata["image"] == f"ipfs://{first.image_cid}"

    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    daemon.run(until=committed(daemon, token_id, 1), poll_interval=0.1, timeout=60)
    second = daemon.store.job(token_id, 1)
    assert canvas.token_uri(token_id) == f"ipfs://{second.metadata_cid}"
    assert commits_of(canvas, token_id) == [(0, first.metadata_cid), (1, second.metadata_cid)]

    # The mask, recomputed from the chain's own event, is exactly the pixels that changed.
    (event,) = canvas.contract.events.Mutated().get_logs(from_block=0, argument_filters={"tokenId": token_id})
    parent, child = decode_png(pinner.cat(first.image_cid)), decode_png(pinner.cat(second.image_cid))
    mask = mutation_mask(bytes(event.args.entropy), 64, 64)
    assert changed_indices(parent, child).tolist() == mask.tolist()
    child_meta = json.loads(pinner.cat(second.metadata_cid))
    assert child_meta["provenance"]["parent"] == first.metadata_cid
    assert child_meta["provenance"]["entropy"] == "0x" + bytes(event.args.entropy).hex()


def test_ready_jobs_are_committed_in_one_batch(canvas, settings):
    tokens = [wallet.mint(canvas, COLLECTOR, f"batch piece {i}")[0] for i in range(3)]
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=lambda: all(committed(daemon, t, 0)() for t in tokens), poll_interval=0.1, timeout=60)
    transactions = {daemon.store.job(t, 0).commit_tx for t in tokens}
    assert len(transactions) == 1


def test_a_restart_after_pinning_commits_exactly_once(canvas, settings):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "interrupted")
    daemon = open_daemon(settings, RENDERER)
    daemon.read_chain(), daemon.render_ready(), daemon.pin_ready()  # then the process "dies"
    assert daemon.store.job(token_id, 0).state == "pinned"
    daemon.store.close()

    restarted = open_daemon(settings, RENDERER)
    restarted.run(until=committed(restarted, token_id, 0), poll_interval=0.1, timeout=60)
    assert len(commits_of(canvas, token_id)) == 1
    # Another pass with nothing new does nothing at all.
    assert not restarted.step().busy
    assert len(commits_of(canvas, token_id)) == 1


def test_a_restart_after_sending_settles_without_a_second_commit(canvas, settings):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "sent, then lost")
    daemon = open_daemon(settings, RENDERER)
    daemon.read_chain(), daemon.render_ready(), daemon.pin_ready()
    job = daemon.store.job(token_id, 0)
    # Send the commit by hand as the daemon would, and "crash" before the receipt is recorded.
    from renderer import transactions

    call = canvas.commit_batch_call([(token_id, 0, job.metadata_cid)])
    tx = transactions.build(canvas.w3, RENDERER, call)
    daemon.store.advance(job, "sent", commit_nonce=tx["nonce"])
    transactions.wait(canvas.w3, transactions.send(canvas.w3, RENDERER, tx))
    daemon.store.close()

    restarted = open_daemon(settings, RENDERER)
    restarted.run(until=committed(restarted, token_id, 0), poll_interval=0.1, timeout=60)
    assert commits_of(canvas, token_id) == [(0, job.metadata_cid)]


def test_a_key_without_the_renderer_role_is_refused(settings):
    with pytest.raises(SetupError, match="lacks RENDERER_ROLE"):
        open_daemon(settings, COLLECTOR)


def test_bad_prompts_are_refused_before_sending(canvas):
    before = canvas.contract.functions.totalMinted().call()
    with pytest.raises(wallet.BadInput, match="empty"):
        wallet.mint(canvas, COLLECTOR, "   ")
    with pytest.raises(wallet.BadInput, match="281 bytes"):
        wallet.mint(canvas, COLLECTOR, "é" * 140 + "x")
    assert canvas.contract.functions.totalMinted().call() == before


def test_unreachable_nodes_and_wrong_addresses_are_clear_errors(settings, anvil_node):
    with pytest.raises(ChainUnavailable, match="cannot reach the Ethereum RPC node"):
        connect(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(SetupError, match="no contract code"):
        Canvas(connect(anvil_node.url), "0x" + "12" * 20)
    with pytest.raises(SetupError, match="not a contract address"):
        Canvas(connect(anvil_node.url), "0x1234")
    with pytest.raises(IpfsUnavailable, match="cannot reach the IPFS node"):
        Pinner(f"/ip4/127.0.0.1/tcp/{free_port()}/http", timeout=2).version()
    with pytest.raises(SetupError, match="no renderer key"):
        load_account()
    with pytest.raises(SetupError, match="not a valid private key"):
        load_account("0x1234")


def test_a_commit_sends_only_the_newest_ready_generation_and_covers_the_rest(canvas, settings, ipfs_node):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "coalesced")
    owners = [COLLECTOR, SECOND, COLLECTOR, SECOND]
    for sender, receiver in zip(owners, owners[1:]):
        wallet.transfer(canvas, sender, token_id, receiver.address)
    daemon = open_daemon(settings, RENDERER)
    daemon.read_chain()
    while daemon.render_ready():  # every generation rendered (each is the next one's parent) ...
        pass
    daemon.pin_ready()  # ... and pinned before the commit stage runs
    daemon.commit_ready()
    jobs = [daemon.store.job(token_id, g) for g in range(4)]
    assert [(j.state, j.covered_by) for j in jobs] == [("covered", 3)] * 3 + [("committed", None)]
    assert commits_of(canvas, token_id) == [(3, jobs[3].metadata_cid)]
    assert canvas.token_uri(token_id) == f"ipfs://{jobs[3].metadata_cid}"

    # The skipped generations stay reachable: parent links from the committed one, each on IPFS.
    pinner = Pinner(ipfs_node.api_multiaddr)
    cid = jobs[3].metadata_cid
    for job in reversed(jobs[:3]):
        cid = json.loads(pinner.cat(cid))["provenance"]["parent"]
        assert cid == job.metadata_cid
        assert pinner.cat(job.image_cid) == open(job.image_path, "rb").read()
    assert not daemon.step().busy
    assert len(commits_of(canvas, token_id)) == 1

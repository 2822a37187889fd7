"""The congestion glitch on Anvil: a transfer in a block with a high base fee is glitched, one in a
calm block is not, both verify, and a forged congestion record (or animation) is caught by name.

Anvil runs with base fee 0 (so brownie can attach); each test sets the base fee of one block with
`anvil_setNextBlockBaseFeePerGas` and mines it, so the transfer's block inherits a fee near it
(EIP-1559: an empty block lowers the next base fee by an eighth) and the wallet's fee estimate,
taken from the latest block, covers it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from renderer import transactions, wallet
from renderer.backends.noise import NoiseBackend
from renderer.congestion import DEFAULT_THRESHOLD_WEI, GWEI, Congestion, congestion_strength
from renderer.daemon import open_daemon
from renderer.ipfs import Pinner
from renderer.mask import changed_indices, mutation_mask
from renderer.metadata import encode_metadata
from renderer.png import decode_png
from renderer.pipeline.artefacts import Artefacts
from renderer.render import Origin, recorded_inputs, render
from renderer.verify import failures, verify_token

from .helpers import COLLECTOR, RENDERER, SECOND, committed, rpc

pytestmark = pytest.mark.e2e


def _base_fee_next(canvas, wei: int) -> None:
    """Mine an empty block with base fee `wei`; the next block's fee follows from it."""
    rpc(canvas.w3, "anvil_setNextBlockBaseFeePerGas", hex(wei))
    rpc(canvas.w3, "evm_mine")


def _header_fee(canvas, block_number: int) -> int:
    return canvas.w3.eth.get_block(block_number)["baseFeePerGas"]


def test_a_congested_transfer_is_glitched_a_calm_one_is_not_and_both_verify(canvas, settings, ipfs_node):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a harbour under a gas spike")
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)

    _base_fee_next(canvas, 8 * GWEI)  # calm: far below the 50 gwei threshold
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    _base_fee_next(canvas, 400 * GWEI)  # congested: about 350 gwei by the transfer's block
    wallet.transfer(canvas, SECOND, token_id, COLLECTOR.address)
    _base_fee_next(canvas, 0)
    daemon.run(until=committed(daemon, token_id, 2), poll_interval=0.1, timeout=60)

    calm, busy = daemon.store.job(token_id, 1), daemon.store.job(token_id, 2)
    for job in (calm, busy):
        recorded = json.loads(open(job.metadata_path).read())["provenance"]["congestion"]
        fee = _header_fee(canvas, job.event.block_number)
        assert recorded == job.event.congestion == {
            "base_fee_wei": str(fee), "threshold_wei": str(DEFAULT_THRESHOLD_WEI),
            "strength": congestion_strength(fee, DEFAULT_THRESHOLD_WEI), "rule": "renderer.congestion"}
    assert json.loads(open(calm.metadata_path).read())["provenance"]["congestion"]["strength"] == 0
    assert json.loads(open(busy.metadata_path).read())["provenance"]["congestion"]["strength"] > 0

    # The busy generation's pixels are the glitched ones: without the glitch the same render differs,
    # and either way exactly the mask changed.
    origin = Origin.from_mint(daemon.store.job(token_id, 0).event)
    parent = Artefacts.parent(calm)
    inputs = recorded_inputs(json.loads(open(busy.metadata_path).read())["provenance"])
    unglitched = render(busy.event, origin, parent, NoiseBackend(), chain_id=canvas.chain_id,
                        canvas=canvas.address, **{**inputs, "congestion": None})
    before, after = decode_png(parent.image_png), decode_png(open(busy.image_path, "rb").read())
    assert not np.array_equal(decode_png(unglitched.image_png), after)
    mask = mutation_mask(bytes.fromhex(busy.event.args["entropy"][2:]), 64, 64)
    assert np.array_equal(changed_indices(before, after), mask)

    checks = verify_token(canvas, Pinner(ipfs_node.api_multiaddr), token_id)
    assert not failures(checks)
    names = {(c.generation, c.name) for c in checks}
    assert {(1, "congestion"), (2, "congestion"), (2, "animation"), (2, "rerender")} <= names
    daemon.close()


def test_a_forged_congestion_record_or_animation_is_caught_by_name(canvas, settings, ipfs_node):
    """Three tokens transferred in congested blocks, each rendered honestly and not committed; a forger
    with the renderer's key commits each with one lie in its metadata."""
    tokens = [wallet.mint(canvas, COLLECTOR, f"forgery target {i}")[0] for i in range(3)]
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=lambda: all(committed(daemon, t, 0)() for t in tokens), poll_interval=0.1, timeout=60)
    for token_id in tokens:
        _base_fee_next(canvas, 300 * GWEI)
        wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    _base_fee_next(canvas, 0)
    for _ in range(50):
        daemon.read_chain(), daemon.render_ready(), daemon.pin_ready()
        if all((j := daemon.store.job(t, 1)) is not None and j.state == "pinned" for t in tokens):
            break
    pinner = Pinner(ipfs_node.api_multiaddr)
    honest = [json.loads(open(daemon.store.job(t, 1).metadata_path).read()) for t in tokens]
    fee = int(honest[0]["provenance"]["congestion"]["base_fee_wei"])
    assert honest[0]["provenance"]["congestion"]["strength"] > 0

    honest[0]["provenance"]["congestion"]["strength"] = 0  # "the network was calm"
    lower = Congestion(fee // 2, DEFAULT_THRESHOLD_WEI)  # a base fee that is not the header's, curve kept
    honest[1]["provenance"]["congestion"].update(lower.to_provenance())
    honest[2]["animation_url"] = "ipfs://" + daemon.store.job(tokens[2], 0).metadata_cid  # JSON, not an APNG
    for token_id, document in zip(tokens, honest):
        cid = pinner.pin(encode_metadata(document))
        transactions.transact(canvas.w3, RENDERER, canvas.commit_call(token_id, 1, cid))

    failed = []
    for token_id in tokens:
        details: dict[tuple[int, str], str] = {}
        for c in failures(verify_token(canvas, pinner, token_id)):
            details[(c.generation, c.name)] = details.get((c.generation, c.name), "") + c.detail + "; "
        failed.append(details)
    assert "the glitch strength 0 is not the curve's" in failed[0][(1, "congestion")]
    assert f"the metadata's base fee {fee // 2} wei is not the {fee} wei of block" in failed[1][(1, "congestion")]
    assert "is not an APNG" in failed[2][(1, "animation")]
    assert all(0 not in {g for g, _ in f} for f in failed)  # generation 0 of each stays verified
    daemon.close()


def test_a_block_of_several_events_is_read_in_one_batch_with_the_per_call_readers_inputs(canvas, settings,
                                                                                          monkeypatch):
    """A pigment buy for one token and transfers of two others, mined in one block (a token draws one
    generation a block): the read stage asks for the block's header and pool state once and each
    token's pigment once, all in one JSON-RPC batch, and keeps exactly what the per-call readers
    (the verifier's) say at that block."""
    from renderer.colour import read_colour_inputs
    from renderer.congestion import read_base_fee
    from renderer.rpcbatch import ContractCall

    tokens = [wallet.mint(canvas, COLLECTOR, f"one block, three events {i}")[0] for i in range(3)]
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=lambda: all(committed(daemon, t, 0)() for t in tokens), poll_interval=0.1, timeout=60)
    provider = daemon.canvas.w3.provider
    batches = []
    real_batch = provider.make_batch_request
    monkeypatch.setattr(provider, "make_batch_request", lambda requests: batches.append(list(requests))
                        or real_batch(requests))

    w3, pools = canvas.w3, daemon.pools
    assert pools is not None
    _base_fee_next(canvas, 120 * GWEI)
    rpc(w3, "evm_setAutomine", False)
    try:
        nonce = w3.eth.get_transaction_count(COLLECTOR.address)
        fees = {"from": COLLECTOR.address, "gas": 400_000, "chainId": w3.eth.chain_id,
                "maxFeePerGas": 1000 * GWEI, "maxPriorityFeePerGas": GWEI}
        buy = pools.functions.buy(tokens[0], 1, 0, 2**40).build_transaction(
            {**fees, "nonce": nonce, "value": 5 * pools.functions.minTrade().call()})
        transfers = [canvas.contract.functions.transferFrom(COLLECTOR.address, SECOND.address, token_id)
                     .build_transaction({**fees, "nonce": nonce + 1 + offset})
                     for offset, token_id in enumerate(tokens[1:])]
        for tx in (buy, *transfers):  # all wait in the pool for one block
            w3.eth.send_raw_transaction(COLLECTOR.sign_transaction(tx).raw_transaction)
        rpc(w3, "evm_mine")
    finally:
        rpc(w3, "evm_setAutomine", True)
    _base_fee_next(canvas, 0)
    daemon.run(until=lambda: all(committed(daemon, t, 1)() for t in tokens), poll_interval=0.1, timeout=60)

    jobs = [daemon.store.job(t, 1) for t in tokens]
    block = jobs[0].event.block_number
    assert [j.event.kind for j in jobs] == ["recolour", "mutation", "mutation"]
    assert {j.event.block_number for j in jobs} == {block}
    for job in jobs:  # exactly what the per-call readers say at that block
        assert job.event.colour == read_colour_inputs(pools, job.token_id, block).to_provenance()
    for job in jobs[1:]:
        assert int(job.event.congestion["base_fee_wei"]) == read_base_fee(w3, block) > 0
        assert job.event.congestion["strength"] > 0
    # The pools' state is the block's for every event; the buy's pigment is its token's only.
    assert len({json.dumps(job.event.colour["pool_state"]) for job in jobs}) == 1
    assert any(int(w) > 0 for w in jobs[0].event.colour["weights"])
    assert not any(int(w) > 0 for job in jobs[1:] for w in job.event.colour["weights"])

    # One batch held everything the block's events needed, each thing once.
    at_block = [b for b in batches if any(m == "eth_call" and p[1] == hex(block) for m, p in b)]
    assert len(at_block) == 1
    (requests,) = at_block
    pool_state, weights = ContractCall(pools, "poolState"), ContractCall(pools, "effectiveWeights")
    assert [p for m, p in requests if m == "eth_getBlockByNumber"] == [[hex(block), False]]
    calls = [p for m, p in requests if m == "eth_call"]
    assert all(p[1] == hex(block) for p in calls)
    expected = [pool_state.request(block=block), *(weights.request(t, block=block) for t in tokens)]
    assert sorted(p[0]["data"] for p in calls) == sorted(p[0]["data"] for _, p in expected)
    daemon.close()

"""Canvas.commits, the one reader of commits: a token's single commits (RenderCommitted) and its
records in batch commits (BatchRenderCommitted), merged in chain order."""

from __future__ import annotations

import hashlib

import pytest

from renderer import transactions, wallet
from renderer.cid import raw_cid_of_digest

from .helpers import COLLECTOR, RENDERER, SECOND, commits_of

pytestmark = pytest.mark.e2e


def _cid(label: str) -> str:
    return raw_cid_of_digest(hashlib.sha256(label.encode()).digest())


def _send(canvas, call) -> str:
    return transactions.transact(canvas.w3, RENDERER, call)["transactionHash"].to_0x_hex()


def test_single_and_batch_commits_merge_in_chain_order(canvas):
    first, _ = wallet.mint(canvas, COLLECTOR, "committed one by one and in batches")
    second, _ = wallet.mint(canvas, COLLECTOR, "its neighbour in the batches")
    wallet.transfer(canvas, COLLECTOR, first, SECOND.address)
    wallet.transfer(canvas, SECOND, first, COLLECTOR.address)
    wallet.transfer(canvas, COLLECTOR, second, SECOND.address)  # first at generation 2, second at 1
    cid = {(token, generation): _cid(f"{token}/{generation}") for token in (first, second) for generation in range(3)}

    # Two generations of `first` in one batch (ordered by record position), a single commit, another batch.
    batch = _send(canvas, canvas.commit_batch_call([(first, 0, cid[first, 0]), (second, 0, cid[second, 0]),
                                                     (first, 1, cid[first, 1])]))
    single = _send(canvas, canvas.commit_call(first, 2, cid[first, 2]))
    later = _send(canvas, canvas.commit_batch_call([(second, 1, cid[second, 1])]))

    assert commits_of(canvas, first) == [(0, cid[first, 0]), (1, cid[first, 1]), (2, cid[first, 2])]
    assert commits_of(canvas, second) == [(0, cid[second, 0]), (1, cid[second, 1])]
    assert [c["tx_hash"] for c in canvas.commits(first)] == [batch, batch, single]
    assert [c["tx_hash"] for c in canvas.commits(second)] == [batch, later]
    blocks = [c["block_number"] for c in canvas.commits(first)]
    assert blocks[0] == blocks[1] < blocks[2]
    # from_block cuts by block, whichever event carried the commit.
    assert [c["generation"] for c in canvas.commits(first, from_block=blocks[2])] == [2]
    assert [c["generation"] for c in canvas.commits(second, from_block=blocks[2])] == [1]

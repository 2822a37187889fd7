"""The read stage's batched reads when the node cannot answer: a node that pruned a block's state
stops the daemon with the SetupError that says to use an archive node; a node that is down raises
one of the RPC outages the loop waits out. This module's Anvil keeps the state of its last
PRUNE_HISTORY blocks only, as a full node that is not an archive does."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import pytest

from renderer import wallet
from renderer.devtools import nodes
from renderer.chain import Canvas, connect
from renderer.daemon import RPC_OUTAGES, open_daemon
from renderer.errors import SetupError
from renderer.pipeline.intake import Intake
from renderer.pipeline.reader import ChainReader
from renderer.pools import open_pools
from renderer.store import JobStore

from ..tcp_proxy import TcpProxy
from .helpers import COLLECTOR, RENDERER, rpc

pytestmark = pytest.mark.e2e

PRUNE_HISTORY = 8


@pytest.fixture(scope="module")
def anvil_node(tmp_path_factory):
    """This module's Anvil, started with --prune-history: older blocks' state is forgotten."""
    real_spawn = nodes.spawn

    def spawn(cmd, log, env=None):
        return real_spawn([*cmd, "--prune-history", str(PRUNE_HISTORY)], log, env)

    with mock.patch.object(nodes, "spawn", spawn), nodes.AnvilNode(tmp_path_factory.mktemp("anvil")) as node:
        yield node


def test_a_node_that_pruned_the_state_of_the_blocks_read_stops_the_daemon_clearly(canvas, settings):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "read too late")
    mint_block = canvas.w3.eth.block_number
    rpc(canvas.w3, "anvil_mine", hex(3 * PRUNE_HISTORY))  # the mint's block state is forgotten
    daemon = open_daemon(settings, RENDERER)
    try:
        with pytest.raises(SetupError, match=f"cannot say what the colour pools held at block {mint_block} .*"
                                             "archive node"):
            daemon.read_chain()
        assert daemon.store.job(token_id, 0) is None and daemon.store.next_block == settings.start_block
    finally:
        daemon.close()


def test_a_node_that_goes_down_mid_range_raises_an_outage_the_loop_waits_out(canvas, anvil_node):
    start = canvas.w3.eth.block_number + 1  # blocks whose state the node still keeps
    token_id, _ = wallet.mint(canvas, COLLECTOR, "read during an outage")
    proxy = TcpProxy(anvil_node.port).up()
    store = JobStore(Path(tempfile.mkdtemp()) / "jobs.sqlite", canvas.chain_id, canvas.address, start)
    try:
        through_proxy = Canvas(connect(proxy.url, timeout=2), canvas.address)
        pools = open_pools(through_proxy)
        # The logs come straight from Anvil; the colour inputs' batch goes through the proxy, now down.
        reader = ChainReader(canvas.w3, address=canvas.address, topics=canvas.event_topics(),
                             start_block=store.start_block)
        intake = Intake(through_proxy, store, reader, pools, rpc_outages=RPC_OUTAGES)
        proxy.down()
        with pytest.raises(RPC_OUTAGES):
            intake.read()
        assert store.job(token_id, 0) is None and store.next_block == start
        proxy.up()
        assert intake.read() >= 1 and store.job(token_id, 0).event.colour is not None
    finally:
        proxy.down()
        store.close()

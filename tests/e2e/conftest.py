from __future__ import annotations

import pytest

from renderer.chain import Canvas, connect
from renderer.config import Settings
from renderer.devtools.demo import run_deploy

from .helpers import RENDERER


@pytest.fixture(scope="module")
def deployment(anvil_node, tmp_path_factory):
    """ChaosCanvas deployed by `chaos deploy` (brownie) on this module's Anvil."""
    return run_deploy(anvil_node.url, RENDERER.address, tmp_path_factory.mktemp("deploy") / "record.json")


@pytest.fixture(scope="module")
def canvas(anvil_node, deployment):
    return Canvas(connect(anvil_node.url), deployment["canvas"])


@pytest.fixture
def settings(anvil_node, ipfs_node, deployment, tmp_path):
    """Daemon settings with a fresh job store per test."""
    return Settings(rpc_url=anvil_node.url, canvas=deployment["canvas"], ipfs_api=ipfs_node.api_multiaddr,
                    out_dir=tmp_path / "renderer", start_block=deployment["block"], image_size=64)

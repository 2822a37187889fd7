"""Fixtures shared by the renderer and end-to-end tests: real nodes, started per need."""

from __future__ import annotations

import pytest

from renderer.devtools.nodes import AnvilNode, IpfsNode


@pytest.fixture(scope="session")
def ipfs_node(tmp_path_factory):
    """One real js-ipfs node (Kubo RPC API) for the whole session."""
    with IpfsNode(tmp_path_factory.mktemp("ipfs") / "repo") as node:
        yield node


@pytest.fixture(scope="module")
def anvil_node(tmp_path_factory):
    """A fresh Anvil chain per test module."""
    with AnvilNode(tmp_path_factory.mktemp("anvil")) as node:
        yield node

import io
import os

import pytest

from renderer.cid import CHUNK_SIZE, file_cid
from renderer.ipfs import Pinner


def test_small_file_cid_matches_a_known_vector():
    # `ipfs add --cid-version=1 --raw-leaves` of these 11 bytes, as a js-ipfs node answered.
    assert file_cid(b"hello chaos") == "bafkreidik3psc5bzrsb42cb6w6agq4hrys35igohasv3o7imukhyc4kvse"


def test_cids_are_base32_cidv1():
    assert file_cid(b"").startswith("bafkrei")
    assert file_cid(os.urandom(CHUNK_SIZE + 1)).startswith("bafybei")
    assert len(file_cid(b"x")) == 59


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17])
def test_local_cid_equals_the_ipfs_node_cid(ipfs_node, size):
    data = os.urandom(size)
    client = Pinner(ipfs_node.api_multiaddr).client
    answer = client.add(io.BytesIO(data), raw_leaves=True, cid_version=1, opts={"cid-base": "base32"})
    assert answer["Hash"] == file_cid(data)


def test_cid_of_a_two_level_tree_matches_the_node(ipfs_node):
    # 175 chunks: one more than a node can link, so the importer builds two levels.
    data = os.urandom(175 * CHUNK_SIZE)
    client = Pinner(ipfs_node.api_multiaddr, timeout=120).client
    answer = client.add(io.BytesIO(data), raw_leaves=True, cid_version=1, opts={"cid-base": "base32"})
    assert answer["Hash"] == file_cid(data)

"""recolour(tokenId): the pools role only; a generation of its own (Recoloured, no entropy, no mask)."""

import brownie
import pytest
from eth_utils import keccak


@pytest.fixture
def painter(canvas, admin, carol):
    """carol holds the pools role (as the ColourPools contract does after deploy_pools)."""
    canvas.grantRole(canvas.POOLS_ROLE(), carol, {"from": admin})
    return carol


def test_pools_role(canvas, admin):
    assert bytes(canvas.POOLS_ROLE()) == keccak(text="POOLS_ROLE")
    assert bytes(canvas.getRoleAdmin(canvas.POOLS_ROLE())) == bytes(32)  # granted by the admin
    assert not canvas.hasRole(canvas.POOLS_ROLE(), admin)


@pytest.mark.parametrize("who", ["admin", "renderer", "alice", "bob"])
def test_recolour_needs_the_pools_role(canvas, token, h, who, request):
    account = request.getfixturevalue(who)
    with h.reverts_with("AccessControlUnauthorizedAccount", account, canvas.POOLS_ROLE()):
        canvas.recolour(token, {"from": account})
    assert canvas.generationOf(token) == 0


def test_revoked_role_cannot_recolour(canvas, token, admin, painter, h):
    canvas.recolour(token, {"from": painter})
    canvas.revokeRole(canvas.POOLS_ROLE(), painter, {"from": admin})
    with h.reverts_with("AccessControlUnauthorizedAccount", painter, canvas.POOLS_ROLE()):
        canvas.recolour(token, {"from": painter})
    assert canvas.generationOf(token) == 1


def test_recolour_bumps_the_generation(canvas, token, alice, painter):
    for generation in (1, 2, 3):
        tx = canvas.recolour(token, {"from": painter})
        assert tx.return_value == alice  # the owner, for the pools' sell check
        assert canvas.generationOf(token) == generation
        assert [e.name for e in tx.events] == ["Recoloured"]  # no Mutated (no entropy), no MetadataUpdate
        event = tx.events["Recoloured"][0]
        assert (event["tokenId"], event["generation"]) == (token, generation)
    assert canvas.ownerOf(token) == alice


def test_recolour_and_mutations_share_one_counter(canvas, token, alice, bob, painter, h):
    canvas.recolour(token, {"from": painter})  # 1
    tx = canvas.transferFrom(alice, bob, token, {"from": alice})  # 2
    assert tx.events["Mutated"][0]["generation"] == 2
    tx = canvas.recolour(token, {"from": painter})  # 3
    assert tx.events["Recoloured"][0]["generation"] == 3
    assert tx.return_value == bob
    tx = canvas.mutate(token, {"from": bob, "value": h.MUTATION_PRICE})  # 4
    assert tx.events["Mutated"][0]["generation"] == 4
    assert canvas.generationOf(token) == 4


def test_recolour_of_unknown_or_burnt_token(canvas, token, alice, painter, h):
    with h.reverts_with("ERC721NonexistentToken", token + 1):
        canvas.recolour(token + 1, {"from": painter})
    canvas.burn(token, {"from": alice})
    with h.reverts_with("ERC721NonexistentToken", token):
        canvas.recolour(token, {"from": painter})


def test_commit_rules_apply_to_recolourings(canvas, token, renderer, painter, h):
    cid = h.make_cid
    canvas.recolour(token, {"from": painter})
    with h.reverts_with("FutureGeneration", token, 2, 1):
        h.commit(canvas, token, 2, cid(b"2"), renderer)
    h.commit(canvas, token, 1, cid(b"1"), renderer)
    with h.reverts_with("StaleGeneration", token, 0, 1):
        h.commit(canvas, token, 0, cid(b"0"), renderer)
    with h.reverts_with("StaleGeneration", token, 1, 1):
        h.commit(canvas, token, 1, cid(b"1 again"), renderer)
    # A commit does not disturb the generation, and a re-colouring after it can be committed.
    canvas.recolour(token, {"from": painter})
    h.commit(canvas, token, 2, cid(b"2"), renderer)
    assert tuple(canvas.lastCommit(token)) == (True, 2, cid(b"2"))
    assert canvas.tokenURI(token) == "ipfs://" + cid(b"2")


def test_recolour_keeps_the_last_commit(canvas, token, renderer, painter, h):
    h.commit(canvas, token, 0, h.make_cid(b"0"), renderer)
    canvas.recolour(token, {"from": painter})
    assert tuple(canvas.lastCommit(token)) == (True, 0, h.make_cid(b"0"))  # until the re-render lands


def test_pools_recolour_through_trades(canvas, pools, token, alice, renderer, h):
    """End to end on-chain: a buy is a re-colouring generation the renderer can commit."""
    tx = pools.buy(token, 0, 0, h.FAR_DEADLINE, {"from": alice, "value": 10**16})
    generation = tx.events["Recoloured"][0]["generation"]
    assert generation == canvas.generationOf(token) == 1
    h.commit(canvas, token, generation, h.make_cid(b"recoloured"), renderer)
    with h.reverts_with("StaleGeneration", token, 1, 1):
        h.commit(canvas, token, generation, h.make_cid(b"late"), renderer)


def test_two_recolourings_in_one_block_draw_one_generation(canvas, token, alice, painter):
    """Audit: re-colour spam. The second re-colouring in a block still returns the owner (the pools
    trade) but draws no generation and emits nothing."""
    brownie.chain.mine()
    brownie.web3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [canvas.recolour(token, {"from": painter, "required_confs": 0, "gas_limit": 100_000})
               for _ in range(3)]
        brownie.web3.provider.make_request("evm_mine", [])
    finally:
        brownie.web3.provider.make_request("evm_setAutomine", [True])
    for tx in txs:
        tx.wait(1)
    assert len({tx.block_number for tx in txs}) == 1
    assert [tx.return_value for tx in txs] == [alice] * 3
    assert [[e.name for e in tx.events] for tx in txs] == [["Recoloured"], [], []]
    assert canvas.generationOf(token) == 1

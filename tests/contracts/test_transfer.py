"""Transfers and paid mutations bump the generation and emit Mutated; burn forgets the token."""

import brownie
from eth_abi import encode
from eth_utils import keccak

# Storage of ChaosCanvas: its own variables after ERC2981 (_defaultRoyaltyInfo, _tokenRoyaltyInfo)
# and AccessControl (_roles); Solady's ERC-721 keeps ownership in hashed slots of its own, the
# owner in bits 0..159 and the canvas's extra data (generation | committed + 1 | block stamp, 32
# bits each) in bits 160..255. test_burn_forgets_the_digest checks them against live values.
TOTAL_MINTED_SLOT = 3
DIGESTS_SLOT = 5
SOLADY_SEED = 0x7D8825530A5A2E7A


def _slot(token_id, mapping_slot):
    return int.from_bytes(keccak(encode(["uint256", "uint256"], [token_id, mapping_slot])), "big")


def _ownership_slot(token_id):
    """Solady ERC721's slot of `token_id`: id + id + keccak256(id's first 28 bytes ++ seed's first 4)."""
    word = token_id.to_bytes(32, "big")[:28] + SOLADY_SEED.to_bytes(8, "big")[:4]
    return (2 * token_id + int.from_bytes(keccak(word), "big")) % 2**256


def _storage(canvas, slot):
    return int.from_bytes(bytes(brownie.web3.eth.get_storage_at(canvas.address, slot)), "big")


def _check_mutated(h, tx, token_id, generation, from_, to):
    assert len(tx.events["Mutated"]) == 1
    event = tx.events["Mutated"][0]
    assert event["tokenId"] == token_id
    assert event["generation"] == generation
    assert event["from"] == from_
    assert event["to"] == to
    assert bytes(event["entropy"]) == h.expected_entropy(tx, token_id, generation, from_, to)
    return bytes(event["entropy"])


def test_transfer_from_bumps_generation(canvas, token, alice, bob, h):
    tx = canvas.transferFrom(alice, bob, token, {"from": alice})
    assert canvas.ownerOf(token) == bob
    assert canvas.generationOf(token) == 1
    _check_mutated(h, tx, token, 1, alice, bob)
    assert [e.name for e in tx.events] == ["Transfer", "Mutated"]


def test_safe_transfer_from_bumps_generation(canvas, token, alice, bob, h):
    tx = canvas.safeTransferFrom["address,address,uint256"](alice, bob, token, {"from": alice})
    assert canvas.generationOf(token) == 1
    _check_mutated(h, tx, token, 1, alice, bob)


def test_safe_transfer_from_with_data_bumps_generation(canvas, token, alice, bob, h):
    tx = canvas.safeTransferFrom["address,address,uint256,bytes"](alice, bob, token, b"hello", {"from": alice})
    assert canvas.generationOf(token) == 1
    _check_mutated(h, tx, token, 1, alice, bob)


def test_each_transfer_adds_exactly_one(canvas, token, alice, bob, carol, h):
    hops = [(alice, bob), (bob, carol), (carol, alice), (alice, carol)]
    entropies = []
    for generation, (from_, to) in enumerate(hops, start=1):
        tx = canvas.transferFrom(from_, to, token, {"from": from_})
        entropies.append(_check_mutated(h, tx, token, generation, from_, to))
        assert canvas.generationOf(token) == generation
    assert len(set(entropies)) == len(hops)  # every generation gets its own entropy


def test_approved_operator_transfer_mutates(canvas, token, alice, bob, carol, h):
    canvas.approve(carol, token, {"from": alice})
    tx = canvas.transferFrom(alice, bob, token, {"from": carol})
    _check_mutated(h, tx, token, 1, alice, bob)


def test_self_transfer_is_not_a_mutation(canvas, token, alice, h):
    """Audit: a transfer to oneself used to mutate for ~9.5k gas without paying `mutationPrice`."""
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    for transfer in (canvas.transferFrom, canvas.safeTransferFrom["address,address,uint256"]):
        tx = transfer(alice, alice, token, {"from": alice})
        assert [e.name for e in tx.events] == ["Transfer"]
        assert canvas.generationOf(token) == 1
        assert canvas.ownerOf(token) == alice and canvas.balanceOf(alice) == 1


def test_two_transfers_in_one_block_draw_one_generation(canvas, token, alice, bob, carol, h):
    """Audit: at most one generation per token per block; the second transfer still moves the token."""
    brownie.chain.mine()
    brownie.web3.provider.make_request("evm_setAutomine", [False])
    try:
        first = canvas.transferFrom(alice, bob, token, {"from": alice, "required_confs": 0, "gas_limit": 200_000})
        second = canvas.transferFrom(bob, carol, token, {"from": bob, "required_confs": 0, "gas_limit": 200_000})
        brownie.web3.provider.make_request("evm_mine", [])
    finally:
        brownie.web3.provider.make_request("evm_setAutomine", [True])
    first.wait(1)
    second.wait(1)
    assert first.block_number == second.block_number
    assert canvas.ownerOf(token) == carol
    assert canvas.generationOf(token) == 1
    assert [e.name for e in first.events] == ["Transfer", "Mutated"]
    assert [e.name for e in second.events] == ["Transfer"]
    # The next block draws again.
    tx = canvas.transferFrom(carol, alice, token, {"from": carol})
    _check_mutated(h, tx, token, 2, carol, alice)


def test_transfer_in_the_mint_block_draws_nothing(canvas, alice, bob):
    """The mint is the token's draw for its block (a receiver contract transferring on receipt
    does not log a mutation before its mint's render)."""
    brownie.chain.mine()
    brownie.web3.provider.make_request("evm_setAutomine", [False])
    try:
        minted = canvas.mint("same block", {"from": alice, "value": canvas.mintPrice(), "required_confs": 0,
                                            "gas_limit": 300_000})
        moved = canvas.transferFrom(alice, bob, 1, {"from": alice, "required_confs": 0, "gas_limit": 200_000})
        brownie.web3.provider.make_request("evm_mine", [])
    finally:
        brownie.web3.provider.make_request("evm_setAutomine", [True])
    minted.wait(1)
    moved.wait(1)
    assert canvas.ownerOf(1) == bob and canvas.generationOf(1) == 0
    assert "Mutated" not in moved.events


def test_unauthorized_transfer_reverts(canvas, token, alice, bob, h):
    with h.reverts_with("NotOwnerNorApproved"):
        canvas.transferFrom(alice, bob, token, {"from": bob})
    assert canvas.generationOf(token) == 0


def test_transfer_to_zero_reverts(canvas, token, alice, h):
    with h.reverts_with("TransferToZeroAddress"):
        canvas.transferFrom(alice, h.ZERO_ADDRESS, token, {"from": alice})


def test_tokens_have_independent_generations(canvas, token, alice, bob, h):
    other = h.mint(canvas, bob)
    canvas.transferFrom(alice, bob, token, {"from": alice})
    canvas.transferFrom(bob, alice, token, {"from": bob})
    assert canvas.generationOf(token) == 2
    assert canvas.generationOf(other) == 0


# ------------------------------------------------------------------- burn


def test_burn_forgets_the_digest(canvas, token, alice, bob, renderer, h):
    canvas.transferFrom(alice, bob, token, {"from": alice})
    cid = h.make_cid(b"gen 1")
    tx = h.commit(canvas, token, 1, cid, renderer)

    # The slots hold what we think they hold before the burn ...
    assert _storage(canvas, TOTAL_MINTED_SLOT) == 1
    ownership = _storage(canvas, _ownership_slot(token))
    stamp = tx.block_number - 1  # the transfer's block
    assert ownership == int(bob.address, 16) | (1 << 160) | (2 << 192) | (stamp << 224)  # gen 1, committed 1
    digest_slot = _slot(token, DIGESTS_SLOT)
    assert _storage(canvas, digest_slot) == int.from_bytes(h.digest_of(cid), "big")

    tx = canvas.burn(token, {"from": bob})
    assert "Mutated" not in tx.events
    assert tx.events["Transfer"]["to"] == h.ZERO_ADDRESS

    # ... and the owner and digest are gone after it (Solady keeps the extra data of a burnt id,
    # which is never reused; every view checks the owner first).
    assert _storage(canvas, _ownership_slot(token)) % 2**160 == 0
    assert _storage(canvas, digest_slot) == 0
    for view in (canvas.generationOf, canvas.lastCommit, canvas.tokenURI, canvas.ownerOf):
        with h.reverts_with("ERC721NonexistentToken", token):
            view(token)
    assert canvas.totalMinted() == 1  # ids are never reused


def test_burn_by_stranger_reverts(canvas, token, bob, h):
    with h.reverts_with("NotOwnerNorApproved"):
        canvas.burn(token, {"from": bob})


# ---------------------------------------------------------- paid mutation


def test_paid_mutation_in_a_block_that_already_drew_reverts(canvas, token, alice, bob, h):
    """A paid mutation after a transfer in the same block would buy nothing: it reverts (no payment kept)."""
    canvas.transferFrom(alice, bob, token, {"from": alice})
    brownie.chain.mine()
    brownie.web3.provider.make_request("evm_setAutomine", [False])
    try:
        moved = canvas.transferFrom(bob, alice, token, {"from": bob, "required_confs": 0, "gas_limit": 200_000})
        paid = canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE, "required_confs": 0,
                                     "gas_limit": 200_000, "allow_revert": True})
        brownie.web3.provider.make_request("evm_mine", [])
    finally:
        brownie.web3.provider.make_request("evm_setAutomine", [True])
    moved.wait(1)
    receipt = brownie.web3.eth.get_transaction_receipt(paid.txid)  # a reverted tx's object may lag
    assert receipt["blockNumber"] == moved.block_number
    assert receipt["status"] == 0
    assert canvas.generationOf(token) == 2
    assert canvas.balance() == h.MINT_PRICE


def test_mutate_by_owner(canvas, token, alice, h):
    before = alice.balance()
    tx = canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    assert canvas.generationOf(token) == 1
    assert canvas.ownerOf(token) == alice
    assert "Transfer" not in tx.events
    _check_mutated(h, tx, token, 1, alice, alice)
    assert canvas.balance() == h.MINT_PRICE + h.MUTATION_PRICE
    assert alice.balance() == before - h.MUTATION_PRICE
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    assert canvas.generationOf(token) == 2


def test_mutate_after_transfer_continues_count(canvas, token, alice, bob, h):
    canvas.transferFrom(alice, bob, token, {"from": alice})
    tx = canvas.mutate(token, {"from": bob, "value": h.MUTATION_PRICE})
    _check_mutated(h, tx, token, 2, bob, bob)


def test_mutate_by_non_owner(canvas, token, bob, h):
    with h.reverts_with("NotTokenOwner", token, bob):
        canvas.mutate(token, {"from": bob, "value": h.MUTATION_PRICE})
    assert canvas.generationOf(token) == 0


def test_mutate_by_approved_operator_is_not_owner(canvas, token, alice, carol, h):
    canvas.setApprovalForAll(carol, True, {"from": alice})
    with h.reverts_with("NotTokenOwner", token, carol):
        canvas.mutate(token, {"from": carol, "value": h.MUTATION_PRICE})


def test_mutate_by_previous_owner(canvas, token, alice, bob, h):
    canvas.transferFrom(alice, bob, token, {"from": alice})
    with h.reverts_with("NotTokenOwner", token, alice):
        canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})


def test_mutate_wrong_payment(canvas, token, alice, h):
    for sent in (0, h.MUTATION_PRICE - 1, h.MUTATION_PRICE + 1, h.MINT_PRICE):
        with h.reverts_with("WrongPayment", sent, h.MUTATION_PRICE):
            canvas.mutate(token, {"from": alice, "value": sent})
    assert canvas.generationOf(token) == 0
    assert canvas.balance() == h.MINT_PRICE


def test_mutate_unknown_token(canvas, alice, h):
    with h.reverts_with("ERC721NonexistentToken", 7):
        canvas.mutate(7, {"from": alice, "value": h.MUTATION_PRICE})

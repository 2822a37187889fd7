"""Transfers and paid mutations bump the generation and emit Mutated; burn forgets the token."""

import brownie
from eth_abi import encode
from eth_utils import keccak

# Storage slots of ChaosCanvas's own mappings, after ERC721 (_name, _symbol, _owners,
# _balances, _tokenApprovals, _operatorApprovals), ERC2981 (_defaultRoyaltyInfo,
# _tokenRoyaltyInfo), AccessControl (_roles) and totalMinted. test_burn_deletes_state
# checks them against live values before relying on them.
TOTAL_MINTED_SLOT = 9
GENERATIONS_SLOT = 10
DIGESTS_SLOT = 11


def _slot(token_id, mapping_slot):
    return int.from_bytes(keccak(encode(["uint256", "uint256"], [token_id, mapping_slot])), "big")


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


def test_self_transfer_mutates(canvas, token, alice, h):
    # A transfer to oneself is a transfer: it is a (free) mutation too.
    tx = canvas.transferFrom(alice, alice, token, {"from": alice})
    _check_mutated(h, tx, token, 1, alice, alice)


def test_unauthorized_transfer_reverts(canvas, token, alice, bob, h):
    with h.reverts_with("ERC721InsufficientApproval", bob, token):
        canvas.transferFrom(alice, bob, token, {"from": bob})
    assert canvas.generationOf(token) == 0


def test_transfer_to_zero_reverts(canvas, token, alice, h):
    with h.reverts_with("ERC721InvalidReceiver", h.ZERO_ADDRESS):
        canvas.transferFrom(alice, h.ZERO_ADDRESS, token, {"from": alice})


def test_tokens_have_independent_generations(canvas, token, alice, bob, h):
    other = h.mint(canvas, bob)
    canvas.transferFrom(alice, bob, token, {"from": alice})
    canvas.transferFrom(bob, alice, token, {"from": bob})
    assert canvas.generationOf(token) == 2
    assert canvas.generationOf(other) == 0


# ------------------------------------------------------------------- burn


def test_burn_deletes_state(canvas, token, alice, bob, renderer, h):
    canvas.transferFrom(alice, bob, token, {"from": alice})
    cid = h.make_cid(b"gen 1")
    canvas.commit(token, 1, cid, {"from": renderer})

    # The slots hold what we think they hold before the burn ...
    assert _storage(canvas, TOTAL_MINTED_SLOT) == 1
    generations = _slot(token, GENERATIONS_SLOT)
    assert _storage(canvas, generations) == 1 | (1 << 64) | (h.RAW << 128)  # current 1, committed 1, codec raw
    digest_slot = _slot(token, DIGESTS_SLOT)
    assert _storage(canvas, digest_slot) == int.from_bytes(h.cid_bytes(cid)[4:], "big")  # the sha2-256 digest

    tx = canvas.burn(token, {"from": bob})
    assert "Mutated" not in tx.events
    assert tx.events["Transfer"]["to"] == h.ZERO_ADDRESS

    # ... and are zero after it.
    assert _storage(canvas, generations) == 0
    assert _storage(canvas, digest_slot) == 0
    for view in (canvas.generationOf, canvas.lastCommit, canvas.tokenURI, canvas.ownerOf):
        with h.reverts_with("ERC721NonexistentToken", token):
            view(token)
    assert canvas.totalMinted() == 1  # ids are never reused


def test_burn_by_stranger_reverts(canvas, token, bob, h):
    with h.reverts_with("ERC721InsufficientApproval", bob, token):
        canvas.burn(token, {"from": bob})


# ---------------------------------------------------------- paid mutation


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

"""Sealed, time-locked layers: seal a commitment to a secret layer prompt, reveal it after the unlock
time; a reveal draws a "reveal" generation. Every abuse reverts by name."""

import brownie
from eth_abi import encode
from eth_utils import keccak

PROMPT = "a red door opening onto the sea"
SALT = keccak(b"salt of the test")
HOUR = 3600


def commitment(prompt=PROMPT, salt=SALT):
    return keccak(encode(["string", "bytes32"], [prompt, salt]))


def _seal(canvas, token, owner, h, lock=HOUR, prompt=PROMPT, salt=SALT):
    unlock_at = h.block_time() + lock
    tx = canvas.seal(token, commitment(prompt, salt), unlock_at, {"from": owner})
    return unlock_at, tx


def _unlock(unlock_at, h):
    brownie.chain.sleep(unlock_at - h.block_time())
    brownie.chain.mine()


def test_seal_then_reveal_after_the_unlock_time(canvas, token, alice, carol, h):
    unlock_at, tx = _seal(canvas, token, alice, h)
    sealed = tx.events["Sealed"][0]
    assert (sealed["tokenId"], sealed["commitment"], sealed["unlockAt"]) == (token, "0x" + commitment().hex(), unlock_at)
    assert tuple(canvas.sealOf(token)) == ("0x" + commitment().hex(), unlock_at, False)
    assert canvas.generationOf(token) == 0  # sealing draws nothing
    _unlock(unlock_at, h)
    tx = canvas.reveal(token, PROMPT, SALT, {"from": carol})  # anyone holding the secret
    (event,) = tx.events["Revealed"]
    assert (event["tokenId"], event["generation"], event["layerPrompt"]) == (token, 1, PROMPT)
    expected = keccak(encode(["uint256", "uint256", "uint64", "bytes32"],
                             [h.prevrandao(tx.block_number), token, 1, SALT]))
    assert bytes(event["entropy"]) == expected
    assert canvas.generationOf(token) == 1
    assert tuple(canvas.sealOf(token)) == ("0x" + commitment().hex(), unlock_at, True)


def test_reveal_before_the_unlock_time_reverts(canvas, token, alice, h):
    unlock_at, _ = _seal(canvas, token, alice, h)
    brownie.chain.sleep(HOUR // 2)
    brownie.chain.mine()
    with brownie.reverts(revert_pattern=f"StillSealed: {token}, {unlock_at}, [0-9]+"):
        canvas.reveal(token, PROMPT, SALT, {"from": alice})
    assert canvas.generationOf(token) == 0


def test_reveal_with_a_wrong_secret_reverts(canvas, token, alice, h):
    unlock_at, _ = _seal(canvas, token, alice, h)
    _unlock(unlock_at, h)
    for prompt, salt in ((PROMPT + ".", SALT), (PROMPT, keccak(b"another salt")), ("", SALT)):
        with h.reverts_with("WrongSecret" if prompt else "EmptyPrompt", *([token] if prompt else [])):
            canvas.reveal(token, prompt, salt, {"from": alice})
    with h.reverts_with("PromptTooLong", 281, h.MAX_PROMPT_BYTES):
        canvas.reveal(token, "x" * 281, SALT, {"from": alice})
    assert tuple(canvas.sealOf(token))[2] is False


def test_reveal_twice_reverts(canvas, token, alice, h):
    unlock_at, _ = _seal(canvas, token, alice, h)
    _unlock(unlock_at, h)
    canvas.reveal(token, PROMPT, SALT, {"from": alice})
    with h.reverts_with("AlreadyRevealed", token):
        canvas.reveal(token, PROMPT, SALT, {"from": alice})
    assert canvas.generationOf(token) == 1


def test_reveal_without_a_seal_reverts(canvas, token, alice, h):
    with h.reverts_with("NoSeal", token):
        canvas.reveal(token, PROMPT, SALT, {"from": alice})
    with h.reverts_with("ERC721NonexistentToken", token + 1):
        canvas.reveal(token + 1, PROMPT, SALT, {"from": alice})


def test_seal_by_a_non_owner_reverts(canvas, token, bob, h):
    with h.reverts_with("NotTokenOwner", token, bob):
        canvas.seal(token, commitment(), h.block_time() + HOUR, {"from": bob})


def test_seal_with_an_unlock_time_in_the_past_reverts(canvas, token, alice, h):
    now = h.block_time()
    for unlock_at in (now - 1, 0):
        with brownie.reverts(revert_pattern=f"UnlockNotInFuture: {unlock_at}, [0-9]+"):
            canvas.seal(token, commitment(), unlock_at, {"from": alice})
    with h.reverts_with("EmptyCommitment"):
        canvas.seal(token, b"\x00" * 32, now + HOUR, {"from": alice})


def test_one_pending_seal_at_a_time_then_a_new_one_after_reveal(canvas, token, alice, h):
    unlock_at, _ = _seal(canvas, token, alice, h)
    with h.reverts_with("AlreadySealed", token, unlock_at):
        canvas.seal(token, commitment("another"), unlock_at + HOUR, {"from": alice})
    _unlock(unlock_at, h)
    canvas.reveal(token, PROMPT, SALT, {"from": alice})
    second_unlock, _ = _seal(canvas, token, alice, h, prompt="a second secret")
    assert tuple(canvas.sealOf(token)) == ("0x" + commitment("a second secret").hex(), second_unlock, False)


def test_the_seal_travels_with_the_token(canvas, token, alice, bob, carol, h):
    """A seal belongs to the token: after a transfer the new holder cannot replace it, and the
    secret still reveals it; the old holder can no longer seal."""
    unlock_at, _ = _seal(canvas, token, alice, h)
    canvas.transferFrom(alice, bob, token, {"from": alice})
    with h.reverts_with("AlreadySealed", token, unlock_at):
        canvas.seal(token, commitment("bob's"), unlock_at + HOUR, {"from": bob})
    with h.reverts_with("NotTokenOwner", token, alice):
        canvas.seal(token, commitment("alice's"), unlock_at + HOUR, {"from": alice})
    _unlock(unlock_at, h)
    assert canvas.reveal(token, PROMPT, SALT, {"from": carol}).events["Revealed"][0]["generation"] == 2


def test_reveal_in_the_block_of_another_draw_reverts(canvas, token, alice, h):
    unlock_at, _ = _seal(canvas, token, alice, h)
    _unlock(unlock_at, h)
    brownie.web3.provider.make_request("evm_setAutomine", [False])
    try:
        mutate = canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE, "required_confs": 0,
                                       "gas_limit": 200_000})
        reveal = canvas.reveal(token, PROMPT, SALT, {"from": alice, "required_confs": 0, "gas_limit": 300_000})
        brownie.web3.provider.make_request("evm_mine", [])
    finally:
        brownie.web3.provider.make_request("evm_setAutomine", [True])
    assert brownie.web3.eth.get_transaction_receipt(mutate.txid)["status"] == 1
    assert brownie.web3.eth.get_transaction_receipt(reveal.txid)["status"] == 0
    assert tuple(canvas.sealOf(token))[2] is False  # the failed reveal left the layer sealed

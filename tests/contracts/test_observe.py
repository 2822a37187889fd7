"""The observer protocol: a holder's EIP-712 `Observe(tokenId, generation)` signature, submitted by
anyone, starts an "observation" generation; every way of abusing a signature reverts by name."""

import brownie
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

# brownie's development accounts are Anvil's: accounts[i] signs with the mnemonic's i-th key.
KEYS = {
    2: "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",  # alice
    3: "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",  # bob
    4: "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",  # carol
}


def _typed(canvas, token_id, generation, chain_id=None, verifying_contract=None):
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
            "Observe": [{"name": "tokenId", "type": "uint256"}, {"name": "generation", "type": "uint64"}],
        },
        "primaryType": "Observe",
        "domain": {"name": "Chaos Canvas", "version": "1", "chainId": chain_id or brownie.chain.id,
                   "verifyingContract": verifying_contract or canvas.address},
        "message": {"tokenId": token_id, "generation": generation},
    }


def sign(account_index, canvas, token_id, generation, **domain):
    message = encode_typed_data(full_message=_typed(canvas, token_id, generation, **domain))
    return bytes(Account.sign_message(message, KEYS[account_index]).signature)


def _entropy(tx, token_id, generation, observer):
    block = brownie.web3.eth.get_block(tx.block_number)
    parent = brownie.web3.eth.get_block(tx.block_number - 1)
    return keccak(encode(["uint256", "bytes32", "uint256", "uint64", "address"],
                         [int.from_bytes(bytes(block["mixHash"]), "big"), bytes(parent["hash"]), token_id,
                          generation, str(observer)]))


def test_digest_is_eip712_of_observe(canvas, token):
    message = encode_typed_data(full_message=_typed(canvas, token, 0))
    expected = keccak(b"\x19\x01" + message.header + message.body)
    assert bytes(canvas.observeDigest(token, 0)) == expected
    fields, name, version, chain_id, contract, salt, extensions = canvas.eip712Domain()
    assert (fields, name, version, chain_id, contract) == ("0x0f", "Chaos Canvas", "1", brownie.chain.id,
                                                           canvas.address)


def test_anyone_submits_the_holders_signature(canvas, token, alice, carol):
    """Gasless for the holder: carol (a relayer) sends alice's signature."""
    tx = canvas.observe(token, 0, sign(2, canvas, token, 0), {"from": carol})
    assert canvas.generationOf(token) == 1
    assert canvas.ownerOf(token) == alice
    (event,) = tx.events["Observed"]
    assert (event["tokenId"], event["generation"], event["observer"]) == (token, 1, alice)
    assert bytes(event["entropy"]) == _entropy(tx, token, 1, alice)
    assert [e.name for e in tx.events] == ["Observed"]


def test_two_holders_get_different_entropy(canvas, token, alice, bob):
    first = canvas.observe(token, 0, sign(2, canvas, token, 0), {"from": alice}).events["Observed"][0]
    canvas.transferFrom(alice, bob, token, {"from": alice})  # generation 2
    second = canvas.observe(token, 2, sign(3, canvas, token, 2), {"from": bob}).events["Observed"][0]
    assert (first["observer"], second["observer"]) == (alice, bob)
    assert first["entropy"] != second["entropy"]
    assert canvas.generationOf(token) == 3


def test_a_signature_by_a_non_holder_reverts(canvas, token, bob, h):
    with h.reverts_with("InvalidObservation", token, bob):
        canvas.observe(token, 0, sign(3, canvas, token, 0), {"from": bob})
    assert canvas.generationOf(token) == 0


def test_a_replayed_signature_reverts(canvas, token, alice, carol, h):
    signature = sign(2, canvas, token, 0)
    canvas.observe(token, 0, signature, {"from": carol})
    with h.reverts_with("StaleObservation", token, 0, 1):
        canvas.observe(token, 0, signature, {"from": carol})
    # The same signature presented as if for the current generation does not match its digest.
    with h.reverts_with("InvalidObservation", token, Account.recover_message(
            encode_typed_data(full_message=_typed(canvas, token, 1)), signature=signature)):
        canvas.observe(token, 1, signature, {"from": carol})


def test_a_signature_is_void_after_a_transfer(canvas, token, alice, bob, carol, h):
    """Signed by alice at generation 0; the token moves to bob: alice's signature is stale, and
    alice's signature for the new generation is no longer the holder's."""
    signature = sign(2, canvas, token, 0)
    canvas.transferFrom(alice, bob, token, {"from": alice})
    with h.reverts_with("StaleObservation", token, 0, 1):
        canvas.observe(token, 0, signature, {"from": carol})
    with h.reverts_with("InvalidObservation", token, alice):
        canvas.observe(token, 1, sign(2, canvas, token, 1), {"from": carol})


def test_a_signature_for_another_token_chain_or_contract_reverts(canvas, alice, h):
    first, second = h.mint(canvas, alice), h.mint(canvas, alice)
    for signature in (sign(2, canvas, second, 0),
                      sign(2, canvas, first, 0, chain_id=brownie.chain.id + 1),
                      sign(2, canvas, first, 0, verifying_contract="0x" + "11" * 20)):
        # Recovers to some address, never to the holder's.
        with brownie.reverts(revert_pattern=f"InvalidObservation: {first}, (?!{alice.address.lower()})0x[0-9a-f]{{40}}"):
            canvas.observe(first, 0, signature, {"from": alice})
    assert canvas.generationOf(first) == 0


def test_a_malformed_signature_reverts(canvas, token, alice, h):
    good = sign(2, canvas, token, 0)
    for bad in (b"", b"\x01" * 10, good[:63], good + b"\x00", good[:64] + bytes([good[64] + 2])):
        with h.reverts_with("InvalidObservation", token, h.ZERO_ADDRESS):
            canvas.observe(token, 0, bad, {"from": alice})
    assert canvas.generationOf(token) == 0


def test_observing_a_missing_token_reverts(canvas, token, alice, h):
    with h.reverts_with("ERC721NonexistentToken", token + 1):
        canvas.observe(token + 1, 0, sign(2, canvas, token + 1, 0), {"from": alice})


def test_observe_twice_in_one_block_draws_once(canvas, token, alice, carol):
    """The one-draw-per-block rule holds for observations: the second one in a block reverts."""
    first, second = sign(2, canvas, token, 0), sign(2, canvas, token, 1)
    brownie.chain.mine()
    brownie.web3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [canvas.observe(token, g, s, {"from": carol, "required_confs": 0, "gas_limit": 200_000})
               for g, s in ((0, first), (1, second))]
        brownie.web3.provider.make_request("evm_mine", [])
    finally:
        brownie.web3.provider.make_request("evm_setAutomine", [True])
    receipts = [brownie.web3.eth.get_transaction_receipt(tx.txid) for tx in txs]
    assert receipts[0]["blockNumber"] == receipts[1]["blockNumber"]
    assert [r["status"] for r in receipts] == [1, 0]
    trace = brownie.web3.provider.make_request("debug_traceTransaction", [txs[1].txid, {}])["result"]
    assert trace["returnValue"].removeprefix("0x").startswith(keccak(b"AlreadyDrawnThisBlock(uint256,uint256)")[:4].hex())
    assert canvas.generationOf(token) == 1


def test_observe_after_a_mutation_in_the_same_block_reverts(canvas, token, alice, carol, h):
    signature = sign(2, canvas, token, 1)
    brownie.chain.mine()
    brownie.web3.provider.make_request("evm_setAutomine", [False])
    try:
        mutate = canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE, "required_confs": 0,
                                       "gas_limit": 200_000})
        observe = canvas.observe(token, 1, signature, {"from": carol, "required_confs": 0, "gas_limit": 200_000})
        brownie.web3.provider.make_request("evm_mine", [])
    finally:
        brownie.web3.provider.make_request("evm_setAutomine", [True])
    assert brownie.web3.eth.get_transaction_receipt(mutate.txid)["status"] == 1
    failed = brownie.web3.eth.get_transaction_receipt(observe.txid)
    assert failed["status"] == 0
    trace = brownie.web3.provider.make_request("debug_traceTransaction", [observe.txid, {}])["result"]
    selector = keccak(b"AlreadyDrawnThisBlock(uint256,uint256)")[:4].hex()
    expected = selector + encode(["uint256", "uint256"], [token, failed["blockNumber"]]).hex()
    assert trace["returnValue"].removeprefix("0x") == expected
    assert canvas.generationOf(token) == 1

"""Gas used by the canvas's main transactions, on a fresh local deployment, beside a plain
OpenZeppelin ERC-721 in the same chain run.

    brownie run scripts/gas.py            # development network (Anvil, started by brownie)

Prints one line per measurement. Figures are whole transaction gas (21000 base + calldata +
execution) as the receipt reports it. The lines `chaos bench gas` promises:

    mint (first by a wallet, 56-byte prompt): N
    transfer over OpenZeppelin transferFrom (first transfer): +N
    transfer over OpenZeppelin transferFrom (later transfer): +N
    commit (first): N
    commit (replacing): N
    commitBatch of 10, per token (first): N
    commitBatch of 10, per token (replacing): N

The transfers run the same sequence on both contracts: a token's first transfer goes to a
wallet that holds nothing (its balance slot written from zero), a later one to a wallet that
already holds a token. "first" commits write a token's digest slot from zero, "replacing"
commits overwrite it.
"""

import contextlib
import hashlib
import io
import warnings

from brownie import OzReferenceERC721, accounts, network

from scripts.deploy import deploy

BATCH = 10
PROMPT = "a cathedral of static, slowly dissolving into a birdsong"  # 56 bytes


def _digest(n):
    return hashlib.sha256(b"gas %d" % n).digest()


def _packed(records):
    """commitBatch's calldata: uint64 tokenId | uint64 generation | bytes32 digest per record."""
    return b"".join(t.to_bytes(8, "big") + g.to_bytes(8, "big") + d for t, g, d in records)


def _transfer_pair(contract, mint, alice, bob, carol):
    """Gas of a token's first transfer (alice -> bob, who holds nothing) and a later one
    (bob -> carol, who already holds a token)."""
    token, carols = mint(alice), mint(carol)
    assert carols
    first = contract.transferFrom(alice, bob, token, {"from": alice}, silent=True).gas_used
    later = contract.transferFrom(bob, carol, token, {"from": bob}, silent=True).gas_used
    return first, later


def main():
    warnings.filterwarnings("ignore", category=FutureWarning)  # brownie's own rpc.* deprecations
    if network.show_active() not in ("development", "anvil"):
        raise SystemExit("gas.py deploys a throwaway canvas: run it on the development network")
    admin, renderer, alice, bob, carol, dave = accounts[:6]
    assert len(PROMPT.encode()) == 56
    with contextlib.redirect_stdout(io.StringIO()):  # only the figures below get printed
        canvas = deploy(admin, renderer)
        reference = OzReferenceERC721.deploy({"from": admin})
    price = canvas.mintPrice()

    def mint_canvas(account):
        return canvas.mint(PROMPT, {"from": account, "value": price}, silent=True).return_value

    oz_ids = iter(range(1, 100))

    def mint_reference(account):
        token = next(oz_ids)
        reference.mint(account, token, {"from": account}, silent=True)
        return token

    results = []
    mint_canvas(admin)  # the collection's first mint writes totalMinted from zero: a one-off
    tx = canvas.mint(PROMPT, {"from": dave, "value": price}, silent=True)
    results.append(("mint (first by a wallet, 56-byte prompt)", tx.gas_used))
    token = tx.return_value
    tx = canvas.mint(PROMPT, {"from": dave, "value": price}, silent=True)
    results.append(("mint (again by the same wallet)", tx.gas_used))

    first, later = _transfer_pair(canvas, mint_canvas, alice, bob, carol)
    oz_first, oz_later = _transfer_pair(reference, mint_reference, alice, bob, carol)
    results.append(("transferFrom (first transfer)", first))
    results.append(("transferFrom (later transfer)", later))
    results.append(("OpenZeppelin transferFrom (first transfer)", oz_first))
    results.append(("OpenZeppelin transferFrom (later transfer)", oz_later))
    tx = canvas.mutate(token, {"from": dave, "value": canvas.mutationPrice()}, silent=True)
    results.append(("mutate (paid)", tx.gas_used))

    tx = canvas.commit(token, 1, _digest(0), {"from": renderer}, silent=True)
    results.append(("commit (first)", tx.gas_used))
    canvas.mutate(token, {"from": dave, "value": canvas.mutationPrice()}, silent=True)
    tx = canvas.commit(token, 2, _digest(1), {"from": renderer}, silent=True)
    results.append(("commit (replacing)", tx.gas_used))

    ids = [mint_canvas(bob) for _ in range(BATCH)]
    tx = canvas.commitBatch(_packed([(i, 0, _digest(i)) for i in ids]), {"from": renderer}, silent=True)
    results.append((f"commitBatch of {BATCH}, per token (first)", tx.gas_used // BATCH))
    for i in ids:
        canvas.mutate(i, {"from": bob, "value": canvas.mutationPrice()}, silent=True)
    tx = canvas.commitBatch(_packed([(i, 1, _digest(100 + i)) for i in ids]), {"from": renderer}, silent=True)
    results.append((f"commitBatch of {BATCH}, per token (replacing)", tx.gas_used // BATCH))

    for label, gas in results:
        print(f"{label}: {gas}")
    print(f"transfer over OpenZeppelin transferFrom (first transfer): {first - oz_first:+d}")
    print(f"transfer over OpenZeppelin transferFrom (later transfer): {later - oz_later:+d}")

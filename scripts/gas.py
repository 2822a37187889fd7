"""Gas used by the canvas's main transactions, on a fresh local deployment.

    brownie run scripts/gas.py            # development network (Anvil, started by brownie)

Prints one line per measurement, e.g. `mint (first): 123456 gas`. Figures are whole
transaction gas (21000 base + calldata + execution) as the receipt reports it.
"""

import base64
import contextlib
import hashlib
import io
import warnings

from brownie import accounts, network

from scripts.deploy import deploy

BATCH = 10


def _cid(n):
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(b"gas %d" % n).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def main():
    warnings.filterwarnings("ignore", category=FutureWarning)  # brownie's own rpc.* deprecations
    if network.show_active() not in ("development", "anvil"):
        raise SystemExit("gas.py deploys a throwaway canvas: run it on the development network")
    admin, renderer, alice, bob = accounts[0], accounts[1], accounts[2], accounts[3]
    with contextlib.redirect_stdout(io.StringIO()):  # only the figures below get printed
        canvas = deploy(admin, renderer)
    price = canvas.mintPrice()
    prompt = "a cathedral of static, slowly dissolving into birdsong"

    results = []
    tx = canvas.mint(prompt, {"from": alice, "value": price}, silent=True)
    results.append(("mint (first)", tx.gas_used))
    token = tx.return_value
    tx = canvas.mint(prompt, {"from": alice, "value": price}, silent=True)
    results.append(("mint (again by same wallet)", tx.gas_used))
    tx = canvas.transferFrom(alice, bob, token, {"from": alice}, silent=True)
    results.append(("transferFrom", tx.gas_used))
    tx = canvas.commit(token, 1, _cid(0), {"from": renderer}, silent=True)
    results.append(("commit (single)", tx.gas_used))

    ids = [canvas.mint(prompt, {"from": bob, "value": price}, silent=True).return_value for _ in range(BATCH)]
    tx = canvas.commitBatch([(i, 0, _cid(i)) for i in ids], {"from": renderer}, silent=True)
    results.append((f"commitBatch ({BATCH} tokens)", tx.gas_used))
    results.append(("commitBatch per token", tx.gas_used // BATCH))

    for label, gas in results:
        print(f"{label}: {gas} gas")

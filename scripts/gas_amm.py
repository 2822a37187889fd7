"""Gas of the colour pools' trades beside a Uniswap v2 swap, in the same Anvil run.

    brownie run scripts/gas_amm.py        # development network (Anvil, started by brownie)

Deploys a canvas and its ColourPools (scripts/deploy.py), then Uniswap v2 from the
build artifacts of npm @uniswap/v2-core (factory, two test ERC-20s, a pair with
liquidity) through brownie's web3: no compiler involved. Every figure is whole
transaction gas (21000 base + calldata + execution) from the receipt.

"again" figures are the steady state, which the ratio compares: a buy of a hue the
token already holds, and a pair.swap after an earlier one in the same second (the
input tokens sent to the pair beforehand, as the router does; the pair's price
accumulators not written: its cheapest swap, so the ratio is the strict one). A swap
in a later block, which also writes the accumulators, is printed for reference.
The last line is `buy/uniswap-v2-swap gas ratio: R`.
"""

import contextlib
import io
import json
import warnings
from pathlib import Path

from brownie import accounts, chain, network, web3

from scripts.deploy import deploy, deploy_pools

UNISWAP_BUILD = Path("node_modules/@uniswap/v2-core/build")
PAYMENT = 10**16  # 0.01 ether per buy


def _artifact(name):
    data = json.loads((UNISWAP_BUILD / f"{name}.json").read_text())
    return data["abi"], "0x" + data["evm"]["bytecode"]["object"].removeprefix("0x")


def _transact(call, sender):
    receipt = web3.eth.wait_for_transaction_receipt(call.transact({"from": sender.address}))
    assert receipt.status == 1, receipt
    return receipt


def _deploy_artifact(name, sender, *args):
    abi, bytecode = _artifact(name)
    receipt = _transact(web3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args), sender)
    return web3.eth.contract(address=receipt.contractAddress, abi=abi)


def uniswap_swap_gas(deployer):
    """Deploy factory, two tokens and their pair, add liquidity; gas of a first and a second swap
    within the liquidity's second (the pair's price accumulators untouched: its cheapest swap),
    and of a swap in a later block once the accumulators hold values (written again, as a pair's
    first swap in every block does)."""
    factory = _deploy_artifact("UniswapV2Factory", deployer, deployer.address)
    supply = 10**24
    token_a = _deploy_artifact("ERC20", deployer, supply)
    token_b = _deploy_artifact("ERC20", deployer, supply)
    _transact(factory.functions.createPair(token_a.address, token_b.address), deployer)
    pair_abi, _ = _artifact("UniswapV2Pair")
    pair = web3.eth.contract(address=factory.functions.getPair(token_a.address, token_b.address).call(),
                             abi=pair_abi)
    token0, token1 = ((token_a, token_b) if pair.functions.token0().call() == token_a.address
                      else (token_b, token_a))
    liquidity = 10**21
    _transact(token0.functions.transfer(pair.address, liquidity), deployer)
    _transact(token1.functions.transfer(pair.address, liquidity), deployer)
    _transact(pair.functions.mint(deployer.address), deployer)

    gas = []
    for step in range(4):
        if step >= 2:
            chain.sleep(12)  # a later block: the swap also writes the pair's two price accumulators
            chain.mine()
        amount_in = 10**18
        reserve0, reserve1, _ = pair.functions.getReserves().call()
        with_fee = amount_in * 997
        amount_out = with_fee * reserve1 // (reserve0 * 1000 + with_fee)
        _transact(token0.functions.transfer(pair.address, amount_in), deployer)
        gas.append(_transact(pair.functions.swap(0, amount_out, deployer.address, b""), deployer).gasUsed)
    return gas[0], gas[1], gas[3]  # gas[2] writes the accumulators from zero: a one-off


def main():
    warnings.filterwarnings("ignore", category=FutureWarning)  # brownie's own rpc.* deprecations
    if network.show_active() not in ("development", "anvil"):
        raise SystemExit("gas_amm.py deploys throwaway contracts: run it on the development network")
    admin, alice, bob = accounts[0], accounts[1], accounts[2]
    with contextlib.redirect_stdout(io.StringIO()):  # only the figures below get printed
        canvas = deploy(admin, admin)
        pools = deploy_pools(canvas, admin)
    token = canvas.mint("a fox made of stained glass", {"from": alice, "value": canvas.mintPrice()},
                        silent=True).return_value
    deadline = web3.eth.get_block("latest")["timestamp"] + 3600

    results = []
    tx = pools.buy(token, 0, 0, deadline, {"from": bob, "value": PAYMENT}, silent=True)
    results.append(("buy (very first: the hue's meter and the token's share slot written from zero)", tx.gas_used))
    tx = pools.buy(token, 0, 0, deadline, {"from": bob, "value": PAYMENT}, silent=True)
    buy = tx.gas_used
    results.append(("buy (again)", buy))
    tx = pools.buy(token, 1, 0, deadline, {"from": bob, "value": PAYMENT}, silent=True)
    results.append(("buy (a new hue sharing the token's share slot)", tx.gas_used))
    tx = pools.buy(token, 2, 0, deadline, {"from": bob, "value": PAYMENT}, silent=True)
    results.append(("buy (a new hue in a new share slot)", tx.gas_used))
    tx = pools.sell(token, 0, pools.pigmentOf(token, 0) // 2, 0, deadline, {"from": alice}, silent=True)
    results.append(("sell (half of the hue)", tx.gas_used))
    tx = pools.sell(token, 0, pools.pigmentOf(token, 0), 0, deadline, {"from": alice}, silent=True)
    results.append(("sell (the rest)", tx.gas_used))

    first_swap, swap, later_swap = uniswap_swap_gas(admin)
    results.append(("uniswap-v2 pair.swap (first)", first_swap))
    results.append(("uniswap-v2 pair.swap (again)", swap))
    results.append(("uniswap-v2 pair.swap (a later block: price accumulators rewritten)", later_swap))

    for label, gas in results:
        print(f"{label}: {gas} gas")
    print(f"buy/uniswap-v2-swap gas ratio: {buy / swap:.3f}")

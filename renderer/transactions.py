"""Signing and sending transactions: EIP-1559 fees, explicit nonces, receipts.

Used by the committer (the renderer's key) and by the wallet commands
(a collector's key): one place builds, signs and sends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, TransactionNotFound
from web3.types import TxReceipt

from . import rpcbatch
from .errors import ChaosError

#: Tip offered to the block producer when the node suggests none.
DEFAULT_PRIORITY_FEE_WEI = 1_000_000_000  # 1 gwei
#: Head-room over the current base fee: survives six consecutive full blocks.
BASE_FEE_MULTIPLIER = 2


class TransactionFailed(ChaosError):
    """A transaction reverted or could not be sent."""


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


def eip1559_fees(w3: Web3) -> Fees:
    base_fee = w3.eth.get_block("latest").get("baseFeePerGas", 0)
    try:
        tip = w3.eth.max_priority_fee
    except Exception:  # nodes without eth_maxPriorityFeePerGas
        tip = DEFAULT_PRIORITY_FEE_WEI
    tip = max(tip, 1)
    return Fees(base_fee * BASE_FEE_MULTIPLIER + tip, tip)


def explain_revert(call: ContractFunction, exc: Exception) -> str:
    """The custom error a call reverted with, by name, when the ABI knows it."""
    if isinstance(exc, ContractCustomError):
        selector = str(exc.data if hasattr(exc, "data") else exc.args[0])[:10]
        for item in call.contract_abi:
            if item.get("type") == "error":
                signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                if Web3.keccak(text=signature)[:4].hex() == selector.removeprefix("0x"):
                    return signature
        return f"custom error {selector}"
    return str(exc)


def build(w3: Web3, account: LocalAccount, call: ContractFunction, *, value: int = 0,
          nonce: int | None = None, fees: Fees | None = None, estimate_block: str = "latest",
          min_nonce: int | None = None) -> dict:
    """A signed-ready EIP-1559 transaction for `call`; gas estimation surfaces reverts by name.
    `estimate_block="pending"` estimates in the next block's context, for calls whose outcome depends
    on the block number (a canvas draw reverts in the block of the token's previous draw).
    Without `nonce`: the account's pending nonce, raised to `min_nonce` when given.

    The chain id, the gas estimate, the nonce and the fee inputs come in one JSON-RPC batch (one
    round trip, no web3 formatters); if the node answers any of them with an error (a revert, a
    node without eth_maxPriorityFeePerGas), they are asked again one by one through web3, which
    names a revert by its custom error."""
    # Every field given: web3 encodes the calldata and asks the node nothing.
    tx = call.build_transaction({"from": account.address, "value": value, "gas": 0, "chainId": 0, "nonce": 0,
                                 "maxFeePerGas": 0, "maxPriorityFeePerGas": 0})
    requests = [("eth_chainId", []),
                ("eth_estimateGas", [{"from": account.address, "to": tx["to"], "data": tx["data"], "value": hex(value)},
                                     estimate_block])]
    if nonce is None:
        requests.append(("eth_getTransactionCount", [account.address, "pending"]))
    if fees is None:
        requests += [rpcbatch.header("latest"), ("eth_maxPriorityFeePerGas", [])]
    try:
        answers = rpcbatch.batch(w3, requests)
    except rpcbatch.RpcError:
        return _build_one_by_one(w3, account, call, value=value, nonce=nonce, fees=fees,
                                 estimate_block=estimate_block, min_nonce=min_nonce)
    chain_id, gas = int(answers[0], 16), int(answers[1], 16)
    rest = answers[2:]
    if nonce is None:
        nonce = max(int(rest.pop(0), 16), min_nonce or 0)
    if fees is None:
        base_fee = int(rest[0].get("baseFeePerGas", "0x0"), 16)
        tip = max(int(rest[1], 16), 1)
        fees = Fees(base_fee * BASE_FEE_MULTIPLIER + tip, tip)
    return {**tx, "chainId": chain_id, "nonce": nonce, "gas": gas * 12 // 10, "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas}


def _build_one_by_one(w3: Web3, account: LocalAccount, call: ContractFunction, *, value: int, nonce: int | None,
                      fees: Fees | None, estimate_block: str, min_nonce: int | None) -> dict:
    fees = fees or eip1559_fees(w3)
    if nonce is None:
        nonce = max(w3.eth.get_transaction_count(account.address, "pending"), min_nonce or 0)
    params = {"from": account.address, "value": value, "chainId": w3.eth.chain_id, "nonce": nonce,
              "maxFeePerGas": fees.max_fee_per_gas, "maxPriorityFeePerGas": fees.max_priority_fee_per_gas}
    try:
        gas = call.estimate_gas({"from": account.address, "value": value}, block_identifier=estimate_block)
    except (ContractCustomError, ContractLogicError) as exc:
        raise TransactionFailed(f"{call.fn_name} would revert: {explain_revert(call, exc)}") from None
    return call.build_transaction({**params, "gas": gas * 12 // 10})


def send(w3: Web3, account: LocalAccount, tx: dict) -> str:
    signed = account.sign_transaction(tx)
    return w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()


#: Receipt polling: first look after FIRST_POLL seconds, then twice as long each time up to MAX_POLL.
#: A dev node that mines on arrival answers within milliseconds, a real chain within a block time:
#: a fixed 0.2 s poll cost a busy daemon that much idle time on every commit.
FIRST_POLL, MAX_POLL = 0.005, 0.5


def wait(w3: Web3, tx_hash: str, timeout: float = 120) -> TxReceipt:
    """The transaction's receipt once it is mined; TimeExhausted after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = FIRST_POLL
    while True:
        try:
            receipt = w3.eth.get_transaction_receipt(tx_hash)
            break
        except TransactionNotFound:
            pass
        if time.monotonic() + delay > deadline:
            raise TimeExhausted(f"transaction {tx_hash} is not in the chain after {timeout} seconds")
        time.sleep(delay)
        delay = min(MAX_POLL, 2 * delay)
    if receipt["status"] != 1:
        raise TransactionFailed(f"transaction {tx_hash} reverted in block {receipt['blockNumber']}")
    return receipt


def transact(w3: Web3, account: LocalAccount, call: ContractFunction, *, value: int = 0,
             timeout: float = 120, estimate_block: str = "latest") -> TxReceipt:
    """Build, sign, send and wait: for one-off user actions."""
    return wait(w3, send(w3, account, build(w3, account, call, value=value, estimate_block=estimate_block)), timeout)

"""Collector actions, signed by the collector's own key: mint, transfer, buy colour."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

from . import transactions
from .chain import Canvas
from .errors import ChaosError


class BadInput(ChaosError):
    """A user's input the contract would reject; says what to change."""


def check_prompt(prompt: str, max_bytes: int) -> None:
    size = len(prompt.encode("utf-8"))
    if not prompt.strip():
        raise BadInput("the prompt is empty: describe the artwork, e.g. --prompt 'a storm over the harbour'")
    if size > max_bytes:
        raise BadInput(f"the prompt is {size} bytes of UTF-8; the canvas takes at most {max_bytes}: shorten it")


def mint(canvas: Canvas, account: LocalAccount, prompt: str) -> tuple[int, str]:
    """Mint `prompt`, paying the canvas's price; returns (token id, transaction hash)."""
    functions = canvas.contract.functions
    check_prompt(prompt, functions.MAX_PROMPT_BYTES().call())
    price = functions.mintPrice().call()
    balance = canvas.w3.eth.get_balance(account.address)
    if balance < price:
        raise BadInput(f"{account.address} holds {Web3.from_wei(balance, 'ether')} ETH; "
                       f"a mint costs {Web3.from_wei(price, 'ether')} ETH plus gas")
    receipt = transactions.transact(canvas.w3, account, functions.mint(prompt), value=price)
    (event,) = canvas.contract.events.Minted().process_receipt(receipt, errors=DISCARD)
    return event.args.tokenId, receipt["transactionHash"].to_0x_hex()


def transfer(canvas: Canvas, account: LocalAccount, token_id: int, to: str) -> str:
    """Transfer a token the account owns (a mutation); returns the transaction hash."""
    if not Web3.is_address(to):
        raise BadInput(f"{to!r} is not an address")
    owner = canvas.owner_of(token_id)
    if owner is None:
        raise BadInput(f"token {token_id} does not exist on {canvas.address}")
    if owner != account.address:
        raise BadInput(f"token {token_id} belongs to {owner}, not to {account.address}")
    call = canvas.contract.functions.transferFrom(account.address, Web3.to_checksum_address(to), token_id)
    return transactions.transact(canvas.w3, account, call)["transactionHash"].to_0x_hex()


def buy_colour(canvas: Canvas, pools, account: LocalAccount, token_id: int, hue: int, eth_wei: int, *,
               slippage_bps: int = 100, deadline_seconds: int = 600) -> tuple[int, str]:
    """Buy pigment of `hue` for `token_id` with `eth_wei` (fee included), accepting at most
    `slippage_bps` less pigment than quoted now; returns (pigment bought, transaction hash).
    Anyone may buy for any token: the pigment is credited to the token, which is re-coloured."""
    functions = pools.functions
    hue_count = functions.hueCount().call()
    if not 0 <= hue < hue_count:
        raise BadInput(f"hue {hue} does not exist: the pools have hues 0 to {hue_count - 1} "
                       f"({360 // hue_count} degrees each)")
    if eth_wei <= 0:
        raise BadInput("say how much ETH to spend on pigment, e.g. --eth 0.01")
    minimum = functions.minTrade().call()
    if eth_wei < minimum:
        raise BadInput(f"a buy pays at least {Web3.from_wei(minimum, 'ether')} ETH (the pools' minTrade), "
                       f"not {Web3.from_wei(eth_wei, 'ether')}")
    if canvas.owner_of(token_id) is None:
        raise BadInput(f"token {token_id} does not exist on {canvas.address}")
    if not 0 <= slippage_bps < 10_000:
        raise BadInput(f"slippage of {slippage_bps} basis points is not between 0 and 9999")
    balance = canvas.w3.eth.get_balance(account.address)
    if balance < eth_wei:
        raise BadInput(f"{account.address} holds {Web3.from_wei(balance, 'ether')} ETH, less than the "
                       f"{Web3.from_wei(eth_wei, 'ether')} ETH to spend (plus gas)")
    quote = functions.quoteBuy(hue, eth_wei).call()
    min_out = quote * (10_000 - slippage_bps) // 10_000
    deadline = canvas.w3.eth.get_block("latest")["timestamp"] + deadline_seconds
    receipt = transactions.transact(canvas.w3, account, functions.buy(token_id, hue, min_out, deadline),
                                    value=eth_wei)
    (event,) = pools.events.Bought().process_receipt(receipt, errors=DISCARD)
    return event.args.pigmentOut, receipt["transactionHash"].to_0x_hex()

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


# ------------------------------------------------------------------ observer protocol, sealed layers


def observe_typed_data(canvas: Canvas, token_id: int, generation: int | None = None) -> dict:
    """The EIP-712 typed data the holder of `token_id` signs to observe it (a JSON-able dict: the
    argument of a browser wallet's `eth_signTypedData_v4`). `generation` defaults to the token's
    current one, the only one the canvas accepts."""
    from .observer import observe_typed_data as typed_data

    if generation is None:
        generation = current_generation(canvas, token_id)
    return typed_data(canvas.chain_id, canvas.address, token_id, generation)


def current_generation(canvas: Canvas, token_id: int) -> int:
    if canvas.owner_of(token_id) is None:
        raise BadInput(f"token {token_id} does not exist on {canvas.address}")
    return canvas.contract.functions.generationOf(token_id).call()


def observe(canvas: Canvas, holder: LocalAccount, token_id: int, submitter: LocalAccount | None = None,
            ) -> tuple[int, str]:
    """Sign `Observe(token_id, generation)` with the holder's key (locally) and submit it from
    `submitter` (default: the holder); returns (the observation's generation, transaction hash)."""
    from .observer import sign_observation

    owner = canvas.owner_of(token_id)
    if owner is None:
        raise BadInput(f"token {token_id} does not exist on {canvas.address}")
    if owner != holder.address:
        raise BadInput(f"token {token_id} belongs to {owner}, not to {holder.address}: only its holder's "
                       "signature collapses its colours")
    generation = canvas.contract.functions.generationOf(token_id).call()
    signature = sign_observation(holder.key, canvas.chain_id, canvas.address, token_id, generation)
    return submit_observation(canvas, submitter or holder, token_id, generation, signature)


def submit_observation(canvas: Canvas, submitter: LocalAccount, token_id: int, generation: int,
                       signature: bytes) -> tuple[int, str]:
    """Send a holder's observation signature (anyone may: a relayer, the gallery's)."""
    current = current_generation(canvas, token_id)
    if generation != current:
        raise BadInput(f"the signature is for generation {generation}; token {token_id} is at generation "
                       f"{current}: it was used already or the token moved on. Sign again")
    return _draw(canvas, submitter, canvas.contract.functions.observe(token_id, generation, bytes(signature)),
                 canvas.contract.events.Observed())


def _draw(canvas: Canvas, sender: LocalAccount, call, event) -> tuple[int, str]:
    """Send a call that draws a generation (observe, reveal): the generation its event names, and the tx.
    Estimated in the next block: the latest one may hold the token's previous draw (one per block)."""
    receipt = transactions.transact(canvas.w3, sender, call, estimate_block="pending")
    (logged,) = event.process_receipt(receipt, errors=DISCARD)
    return logged.args.generation, receipt["transactionHash"].to_0x_hex()


def seal(canvas: Canvas, holder: LocalAccount, token_id: int, layer_prompt: str, unlock_at: int,
         out_dir) -> tuple[str, str]:
    """Seal a secret layer for the holder's token, revealable from `unlock_at` (unix seconds). The salt is
    drawn here and the secret saved under `out_dir` before the transaction is sent; returns (the
    secret's path, transaction hash)."""
    from .sealed import SealSecret, save_secret

    functions = canvas.contract.functions
    check_prompt(layer_prompt, functions.MAX_PROMPT_BYTES().call())
    owner = canvas.owner_of(token_id)
    if owner is None:
        raise BadInput(f"token {token_id} does not exist on {canvas.address}")
    if owner != holder.address:
        raise BadInput(f"token {token_id} belongs to {owner}, not to {holder.address}: only its holder may seal")
    now = canvas.w3.eth.get_block("latest")["timestamp"]
    if unlock_at <= now:
        raise BadInput(f"the unlock time {_when(unlock_at)} is not in the future (the chain's time is {_when(now)}): "
                       "give a later --unlock-at or a positive --unlock-in")
    state = canvas.seal_of(token_id)
    if state.pending:
        raise BadInput(f"token {token_id} already has a sealed layer, unlocking at {_when(state.unlock_at)}: "
                       "reveal it first (`chaos reveal`)")
    secret = SealSecret.new(canvas.chain_id, canvas.address, token_id, layer_prompt, unlock_at)
    path = save_secret(out_dir, secret)
    receipt = transactions.transact(canvas.w3, holder, functions.seal(
        token_id, bytes.fromhex(secret.commitment[2:]), unlock_at))
    return str(path), receipt["transactionHash"].to_0x_hex()


def reveal(canvas: Canvas, account: LocalAccount, token_id: int, layer_prompt: str, salt: bytes) -> tuple[int, str]:
    """Reveal the token's sealed layer with its secret; returns (the reveal's generation, transaction hash).
    Says why not, before sending anything, when it is too early or the secret is wrong."""
    from .sealed import commitment_of

    state = revealable(canvas, token_id)
    if len(salt) != 32:
        raise BadInput(f"the salt is {len(salt)} bytes; it is 32 bytes of hex (0x + 64 hex digits)")
    if "0x" + commitment_of(layer_prompt, salt).hex() != state.commitment:
        raise BadInput(f"wrong secret: this layer prompt and salt do not hash to token {token_id}'s sealed "
                       f"commitment {state.commitment}")
    return _draw(canvas, account, canvas.contract.functions.reveal(token_id, layer_prompt, bytes(salt)),
                 canvas.contract.events.Revealed())


def revealable(canvas: Canvas, token_id: int):
    """The token's pending sealed layer (a chain.SealState) when it may be revealed now; else BadInput
    saying why not (no such token, no seal, revealed already, too early)."""
    if canvas.owner_of(token_id) is None:
        raise BadInput(f"token {token_id} does not exist on {canvas.address}")
    state = canvas.seal_of(token_id)
    if state.commitment is None:
        raise BadInput(f"token {token_id} has no sealed layer")
    if state.revealed:
        raise BadInput(f"token {token_id}'s sealed layer was revealed already")
    now = canvas.w3.eth.get_block("latest")["timestamp"]
    if now < state.unlock_at:
        raise BadInput(f"too early: token {token_id}'s layer unlocks at {_when(state.unlock_at)}, in "
                       f"{state.unlock_at - now} s (the chain's time is {_when(now)})")
    return state


def _when(timestamp: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

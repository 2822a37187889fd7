"""The observer protocol: a holder's EIP-712 signature collapses the token's colours.

The holder signs `Observe(uint256 tokenId, uint64 generation)` for the token's current
generation, in the domain {name "Chaos Canvas", version "1", chainId, verifyingContract: the
canvas}. Anyone may submit it (`ChaosCanvas.observe`): the canvas checks the signer owns the
token, draws the next generation and emits `Observed(tokenId, generation, observer, entropy)`.

Why the signature binds the generation: the observation moves the token to the next generation,
so a signature can be used once, and a signature made before a transfer is void after it (the
generation it names is gone). No nonce is stored: the generation is the nonce.

The collapsed palette (integers only, every machine gets the same bytes)
-----------------------------------------------------------------------
    words = keccak_stream(derive_key("observe", observer address bytes, entropy), 10)
    base hue  h0 = words[0] % 360
    colour i (i = 0..4): hue = (h0 + i * (72 + words[1] % 60)) % 360
                         saturation = 40 + words[2 + i] % 55   (percent)
                         value      = 28 + i * 16 + words[7] % 8 (percent, dark -> light)

then pulled toward the token's pigment and the market like every palette
(`renderer.colour.render_palette`), and the parent picture is graded toward it with
`renderer.backends.grade.tint` at OBSERVE_STRENGTH (a re-colouring grades at 112 of 256; an
observation at 176, so the observer's colours dominate). No pixel mask: every pixel is graded,
and the age layer carries over (an observation repaints no pixel's history).

Grinding does not pay: the entropy mixes `block.prevrandao` and the previous block's hash with
the token, the generation and the observer, all fixed only when the observation lands, so no
address can be chosen in advance for a palette it will get.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3

from .backends.base import Colour
from .hashing import derive_key, keccak_stream
from .palette import PALETTE_SIZE, hsv_to_rgb

#: How strongly an observation grades the parent toward the collapsed palette (of 256).
OBSERVE_STRENGTH = 176
DOMAIN_NAME, DOMAIN_VERSION = "Chaos Canvas", "1"
OBSERVE_TYPES = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
    "Observe": [{"name": "tokenId", "type": "uint256"}, {"name": "generation", "type": "uint64"}],
}


def observe_typed_data(chain_id: int, canvas: str, token_id: int, generation: int) -> dict:
    """The EIP-712 typed data a holder signs (JSON-able: the argument of `eth_signTypedData_v4`)."""
    return {"types": OBSERVE_TYPES, "primaryType": "Observe",
            "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": int(chain_id),
                       "verifyingContract": Web3.to_checksum_address(canvas)},
            "message": {"tokenId": int(token_id), "generation": int(generation)}}


def sign_observation(private_key, chain_id: int, canvas: str, token_id: int, generation: int) -> bytes:
    """The 65-byte (r, s, v) signature of `Observe(token_id, generation)`."""
    message = encode_typed_data(full_message=observe_typed_data(chain_id, canvas, token_id, generation))
    return bytes(Account.sign_message(message, private_key).signature)


def recover_observer(signature: bytes, chain_id: int, canvas: str, token_id: int, generation: int) -> str | None:
    """Who signed `Observe(token_id, generation)` with `signature` (checksummed), or None when it does not
    recover (malformed). 64-byte EIP-2098 signatures are expanded as the canvas reads them."""
    signature = bytes(signature)
    if len(signature) == 64:
        r, vs = signature[:32], int.from_bytes(signature[32:], "big")
        signature = r + (vs & ((1 << 255) - 1)).to_bytes(32, "big") + bytes([27 + (vs >> 255)])
    if len(signature) != 65:
        return None
    message = encode_typed_data(full_message=observe_typed_data(chain_id, canvas, token_id, generation))
    try:
        return Account.recover_message(message, signature=signature)
    except Exception:  # eth_keys' BadSignature, ValueError: not a signature of anything
        return None


def collapse_palette(observer: str, entropy: bytes) -> list[Colour]:
    """The observer's five colours, dark to light, for this observation's entropy."""
    address = bytes.fromhex(observer.lower().removeprefix("0x"))
    if len(address) != 20:
        raise ValueError(f"not an address: {observer!r}")
    if len(entropy) != 32:
        raise ValueError(f"observation entropy must be 32 bytes, got {len(entropy)}")
    words = [int(w) for w in keccak_stream(derive_key("observe", address, entropy), 10)]
    h0, step = words[0] % 360, 72 + words[1] % 60
    return [hsv_to_rgb(h0 + i * step, 40 + words[2 + i] % 55, 28 + i * 16 + words[7] % 8)
            for i in range(PALETTE_SIZE)]

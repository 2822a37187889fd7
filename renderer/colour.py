"""Colour inputs of a render: the token's pigment and every pool's state -> its palette.

The colour pools (`contracts/ColourPools.sol`) hold two things a render reads, both at the
block of the event being rendered, so the same event always gets the same colours:

    weights   the token's effective pigment of each hue, after rebases (`effectiveWeights`)
    pools     every hue's reserves, price, crash flag and rebase index (`poolState`)

The palette rule (integers only, so every machine gets the same bytes)
----------------------------------------------------------------------
With N hues, C_h the fully saturated colour at the centre of hue h (`hsv_to_rgb(centre, 100, 100)`,
centre = (2h + 1) * 180 // N degrees), w_h the token's weights and p_h the pool prices:

    own pigment   W = sum w_h;  if W > 0:
                  T     = sum(w_h * C_h) // W                      # the token's pigment colour
                  alpha = ALPHA_MAX * W // (W + HALF_PIGMENT)      # more pigment, stronger, < ALPHA_MAX
    market        mean = sum p_h // N;  e_h = max(0, p_h - mean);  E = sum e_h;  if E > 0:
                  G     = sum(e_h * C_h) // E                      # the colour of the dear hues
                  beta  = min(BETA_MAX, 256 * E // (N * mean))     # how far prices are from even
    each base palette colour c:
                  c1 = (c  * (256 - alpha) + T * alpha + 128) >> 8
                  c2 = (c1 * (256 - beta)  + G * beta  + 128) >> 8

So buying a hue for a token pulls that token's palette toward the hue, and every trade that
moves prices apart pulls every token's next render a little toward the dear hues: one
collector's trade moves everyone's colours.

Flash crash
-----------
A token that holds pigment of a crashed hue (`crashed_held`) has its RGB channels split:
red is moved SPLIT_STEP pixels right and blue SPLIT_STEP pixels left per crashed hue held
(wrapping around), green stays. A re-colouring splits its whole picture, a mutation only the
pixels it repaints; once the hue recovers no new split is drawn, and what was split while it
was crashed stays in the image as a scar of the crash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backends.base import Colour
from .palette import hsv_to_rgb
from .pools import HueState, read_pool_state

WAD = 10**18
#: Pigment (whole units) at which a token's own pigment reaches half of ALPHA_MAX.
HALF_PIGMENT = 100 * WAD
ALPHA_MAX = 160
BETA_MAX = 64
SPLIT_STEP = 3
#: How strongly a re-colouring grades the parent's picture toward the new palette (of 256).
RECOLOUR_STRENGTH = 112


@dataclass(frozen=True)
class ColourInputs:
    """What the pools said at one block: a render input like the prompt or the seed."""

    pools: str  # the ColourPools address
    block: int
    weights: tuple[int, ...]  # the token's effective pigment per hue, 1e-18 units
    states: tuple[HueState, ...]

    def to_provenance(self) -> dict:
        # Big integers as decimal strings: JSON readers in other languages lose digits past 2**53.
        return {"pools": self.pools, "block": self.block, "weights": [str(w) for w in self.weights],
                "pool_state": [{"hue": s.hue, "eth_reserve": str(s.eth_reserve),
                                "pigment_reserve": str(s.pigment_reserve), "price": str(s.price),
                                "crashed": s.crashed, "rebase_index": s.rebase_index,
                                "next_rebase_at": s.next_rebase_at} for s in self.states],
                "crashed_held": self.crashed_held, "rule": "renderer.colour"}

    @classmethod
    def from_provenance(cls, block: dict | None) -> ColourInputs | None:
        if not block:
            return None
        count = len(block["pool_state"])
        states = tuple(HueState(int(s["hue"]), count, int(s["eth_reserve"]), int(s["pigment_reserve"]),
                                int(s["price"]), bool(s["crashed"]), int(s["rebase_index"]),
                                int(s["next_rebase_at"])) for s in block["pool_state"])
        return cls(block["pools"], int(block["block"]), tuple(int(w) for w in block["weights"]), states)

    @property
    def crashed_held(self) -> list[int]:
        """The crashed hues this token holds pigment of."""
        return [s.hue for s, w in zip(self.states, self.weights) if s.crashed and w > 0]


def hue_colour(hue: int, count: int) -> Colour:
    return hsv_to_rgb((2 * hue + 1) * 180 // count, 100, 100)


def _mix(weights: list[int], colours: list[Colour]) -> Colour:
    total = sum(weights)
    return tuple(sum(w * c[i] for w, c in zip(weights, colours)) // total for i in range(3))


def _blend(colour: Colour, toward: Colour, strength: int) -> Colour:
    return tuple((c * (256 - strength) + t * strength + 128) >> 8 for c, t in zip(colour, toward))


def render_palette(base: list[Colour], inputs: ColourInputs | None) -> list[Colour]:
    """The palette a render uses: the base palette pulled toward the token's pigment and the market."""
    if inputs is None or not inputs.states:
        return list(base)
    count = len(inputs.states)
    colours = [hue_colour(h, count) for h in range(count)]
    palette = list(base)
    owned = sum(inputs.weights)
    if owned > 0:
        tint, alpha = _mix(list(inputs.weights), colours), ALPHA_MAX * owned // (owned + HALF_PIGMENT)
        palette = [_blend(c, tint, alpha) for c in palette]
    prices = [s.price for s in inputs.states]
    mean = sum(prices) // count
    excess = [max(0, p - mean) for p in prices]
    if mean > 0 and sum(excess) > 0:
        market, beta = _mix(excess, colours), min(BETA_MAX, 256 * sum(excess) // (count * mean))
        palette = [_blend(c, market, beta) for c in palette]
    return palette


def channel_split(image: np.ndarray, crashed_hues: int) -> np.ndarray:
    """Split the RGB channels of an (H, W, 3) image: red right, blue left, by SPLIT_STEP per crashed hue."""
    if crashed_hues <= 0:
        return image
    shift = SPLIT_STEP * crashed_hues
    out = image.copy()
    out[..., 0] = np.roll(image[..., 0], shift, axis=1)
    out[..., 2] = np.roll(image[..., 2], -shift, axis=1)
    return out


def read_colour_inputs(pools_contract, token_id: int, block: int, states: list | None = None) -> ColourInputs:
    """The token's weights and every pool's state at `block`, from a web3 ColourPools contract.
    `states`: the pools' state at `block` when the caller already read it (it is the same for
    every event of a block)."""
    weights = pools_contract.functions.effectiveWeights(token_id).call(block_identifier=block)
    if states is None:
        states = read_pool_state(pools_contract, block_identifier=block)
    return ColourInputs(pools_contract.address, block, tuple(int(w) for w in weights), tuple(states))

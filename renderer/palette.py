"""A token's base palette, "collapsed" from its minter's address.

Observer protocol: the same prompt minted by two wallets gives two colourings,
because the palette comes from the minter, not the prompt:

    words = keccak_stream(derive_key("palette", minter address bytes), 10)
    base hue  h0 = words[0] % 360
    colour i (i = 0..4): hue = (h0 + i * (72 + words[1] % 60)) % 360   # spread around the wheel
                         saturation = 45 + words[2 + i] % 50   (percent)
                         value      = 30 + i * 15 + words[7] % 8 (percent, dark -> light)

Colours are integer RGB, computed with integer HSV arithmetic so every
machine gets the same bytes.
"""

from __future__ import annotations

from .hashing import derive_key, keccak_stream

PALETTE_SIZE = 5


def hsv_to_rgb(hue: int, saturation: int, value: int) -> tuple[int, int, int]:
    """Integer HSV (degrees, percent, percent) to 8-bit RGB."""
    hue %= 360
    v = value * 255 // 100
    chroma = v * saturation // 100
    sector = hue // 60
    x = chroma * (60 - abs((hue % 120) - 60)) // 60
    m = v - chroma
    r, g, b = [(chroma, x, 0), (x, chroma, 0), (0, chroma, x), (0, x, chroma), (x, 0, chroma), (chroma, 0, x)][sector]
    return (r + m, g + m, b + m)


def base_palette(minter: str) -> list[tuple[int, int, int]]:
    """Five RGB colours, dark to light, derived from the minter's address."""
    address = bytes.fromhex(minter.lower().removeprefix("0x"))
    if len(address) != 20:
        raise ValueError(f"not an address: {minter!r}")
    words = [int(w) for w in keccak_stream(derive_key("palette", address), 10)]
    h0, step = words[0] % 360, 72 + words[1] % 60
    return [hsv_to_rgb(h0 + i * step, 45 + words[2 + i] % 50, 30 + i * 15 + words[7] % 8)
            for i in range(PALETTE_SIZE)]


def to_hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)

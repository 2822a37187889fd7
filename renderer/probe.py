"""The carbon-14 probe: how old one pixel of one generation is, and which events painted it.

For pixel (x, y) of generation G of a token the probe answers:

    born      the generation that last painted the pixel (0: the mint's paint), with its kind, block and tx
    repaints  how many generations up to G repainted it
    age       G - born, in generations
    events    every event that painted it, oldest first: the mint, then each repaint

Where each figure comes from
----------------------------
`born` and `repaints` are generation G's pinned age layer (renderer.memory, chaos-age/1) at the pixel.
The layer keeps only the last painter and a count, so the list of painting events is rebuilt one
generation at a time: generation g painted pixel p exactly when g's own layer has born[p] == g (a layer
names the newest generation that painted each pixel, and no generation after g has touched g's layer).
Where g's layer is not on IPFS (or its bytes do not hash to its CID), g's mask is recomputed from its
chain event instead: a mutation's mask is `renderer.mask.mutation_mask(entropy, width, height)`, and
each kind registered in `MASKS` likewise from its own event. A recolour, an observation or a reveal
carries its parent's age layer over unchanged (renderer.render: they grade colours, or blend a layer in,
without moving any pixel's birth), so it paints no pixel here either. A reveal's layer does cover part of
the picture, though: the probe lists it apart, under `blended`, with its alpha at the pixel (out of 256,
`renderer.sealed.reveal_weights` recomputed from the reveal's entropy) and its layer prompt. When G's
own layer is missing, born and repaints are derived the same way: born is the last g <= G whose mask
holds the pixel (0 when none does) and repaints is how many do. The answer says which source each figure
came from, and a layer that disagrees with the masks is reported rather than hidden (`chaos verify`
names the forged layer).

Everything is read from a `provenance.TokenHistory` (the chain's events and the walk over IPFS that the
gallery and `chaos verify` already make): a probe makes no chain read of its own, and `ProbeCache`
keeps what a layer or a mask says so that the next click only looks the pixel up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .cid import file_cid
from .errors import ChaosError
from .mask import mutation_mask
from .memory import AgeLayer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ProbeError(ChaosError):
    """A probe that cannot be answered; the message says why and what would answer it."""


class OutsideImage(ProbeError):
    """A pixel outside the image: the message gives the image's size and the valid range."""

    def __init__(self, x: int, y: int, width: int, height: int):
        self.x, self.y, self.width, self.height = x, y, width, height
        super().__init__(f"pixel ({x}, {y}) is outside the {width} x {height} image: x must be 0 to {width - 1} "
                         f"and y 0 to {height - 1} (0, 0 is the top-left corner)")


def _entropy_mask(event, width: int, height: int) -> np.ndarray:
    return mutation_mask(bytes.fromhex(str(event.args["entropy"]).removeprefix("0x")), width, height)


#: How a generation kind's mask is recomputed from its chain event, when its age layer cannot be read:
#: kind -> f(event, width, height) -> sorted flat indices.
MASKS: dict[str, Callable[[object, int, int], np.ndarray]] = {"mutation": _entropy_mask}
#: Kinds whose age layer is the parent's, carried over (renderer.render): they move no pixel's birth.
CARRIED = frozenset({"recolour", "observation", "reveal"})


def _reveal_alpha(event, width: int, height: int) -> np.ndarray:
    from .sealed import reveal_weights

    return reveal_weights(bytes.fromhex(str(event.args["entropy"]).removeprefix("0x")), width, height)


#: Kinds that blend a layer over some pixels without moving their birth: kind -> f(event, width, height)
#: -> (height, width) alpha out of 256, and the event argument that names the layer.
BLENDS: dict[str, tuple[Callable[[object, int, int], np.ndarray], str]] = {"reveal": (_reveal_alpha, "layer_prompt")}


@dataclass(frozen=True)
class Paint:
    """One event that painted the probed pixel."""

    generation: int
    kind: str | None
    block: int | None
    tx: str | None
    #: How we know it painted the pixel: "mint" (a mint paints every pixel), "age layer" (this
    #: generation's layer has born == generation there) or "mask" (recomputed from the event's entropy).
    source: str


@dataclass(frozen=True)
class Blend:
    """A layer blended over the probed pixel without moving its birth (a reveal)."""

    generation: int
    kind: str
    block: int
    tx: str
    alpha: int  # out of 256: how much of the layer the pixel took
    layer: str | None  # what the layer is (a reveal's layer prompt)


@dataclass(frozen=True)
class PixelAge:
    token_id: int
    generation: int  # the generation the pixel is seen from
    x: int
    y: int
    width: int
    height: int
    born: Paint
    repaints: int
    age: int
    events: list[Paint]
    #: Where born and repaints come from: "age layer <cid>" or "masks" (G's layer could not be read).
    source: str
    #: Set when what the layers say and what the masks say disagree, or a repaint's mask is unknown.
    notes: list[str] = field(default_factory=list)
    #: Layers blended over the pixel up to this generation that left its birth as it was (reveals).
    blended: list[Blend] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_text(self) -> str:
        b = self.born
        old = "painted by this very generation" if self.age == 0 else \
            f"{self.age} generation{'s' if self.age != 1 else ''} old"
        times = "never repainted" if self.repaints == 0 else \
            f"repainted {self.repaints} time{'s' if self.repaints != 1 else ''}"
        lines = [f"token {self.token_id}, pixel ({self.x}, {self.y}) of generation {self.generation} "
                 f"({self.width} x {self.height})",
                 f"  born at generation {b.generation} ({b.kind or '?'}, block {_dash(b.block)}, tx {_dash(b.tx)}): {old}",
                 f"  {times}",
                 "  painted by:"]
        for paint in self.events:
            lines.append(f"    generation {paint.generation:>3}  {paint.kind or '?':<9}  block {_dash(paint.block):>6}  "
                         f"tx {_dash(paint.tx)}  [{paint.source}]")
        for blend in self.blended:
            lines.append(f"  blended over it, its birth unchanged: generation {blend.generation} {blend.kind} "
                         f"(block {blend.block}, tx {blend.tx}) at {blend.alpha}/256"
                         + (f": \u201c{blend.layer}\u201d" if blend.layer else ""))
        lines.append(f"  (born and repaints from the {self.source})")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def _dash(value) -> str:
    return "-" if value is None else str(value)


def parse_pixel(text: str) -> tuple[int, int]:
    """"X,Y" (whole numbers) as (x, y); ValueError saying what is expected otherwise."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"a pixel is X,Y with whole numbers from 0 (the top-left corner), e.g. 12,40; got {text!r}")
    return int(parts[0]), int(parts[1])


def png_size(png: bytes | None) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR, without decoding it."""
    if not png or not png.startswith(PNG_SIGNATURE) or len(png) < 24:
        return None
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


class ProbeCache:
    """What each age layer and each mask says, kept across probes and tokens: a layer's CID or a
    mask's entropy names bytes that never change. Decoded layers (two int64 planes each) are the large
    part: at most `max_layers` of them stay, least recently used out; the painted-pixel lists are small."""

    def __init__(self, max_layers: int = 32):
        self.max_layers = max_layers
        self._layers: OrderedDict[str, AgeLayer | None] = OrderedDict()
        self._painted: dict[tuple, np.ndarray | None] = {}
        self._lock = threading.Lock()

    def layer(self, cid: str | None, data: bytes | None) -> AgeLayer | None:
        """The decoded layer `cid` names, or None when its bytes are missing, hash to another CID or
        do not decode."""
        if not cid:
            return None
        with self._lock:
            if cid in self._layers:
                self._layers.move_to_end(cid)
                return self._layers[cid]
        if data is None:
            return None  # not remembered: IPFS may serve it on a later walk
        layer = None
        if file_cid(data) == cid:
            try:
                layer = AgeLayer.decode(data)
            except ValueError:
                layer = None
        with self._lock:
            self._layers[cid] = layer
            while len(self._layers) > self.max_layers:
                self._layers.popitem(last=False)
        return layer

    def painted(self, key: tuple, compute: Callable[[], np.ndarray | None]) -> np.ndarray | None:
        with self._lock:
            if key in self._painted:
                return self._painted[key]
        value = compute()
        with self._lock:
            self._painted[key] = value
        return value


class TokenAges:
    """The probe over one token's history (a `provenance.TokenHistory`); cheap to build, and every
    layer or mask it reads goes through `cache`."""

    def __init__(self, history, cache: ProbeCache | None = None):
        self.history = history
        self.cache = cache or ProbeCache()

    @property
    def latest(self) -> int | None:
        """The newest generation a render was reached for (the one the gallery shows last)."""
        return max((r.generation for r in self.history.records), default=None)

    def _record(self, generation: int):
        return self.history.record(generation)

    def _layer_of(self, generation: int) -> tuple[str | None, AgeLayer | None]:
        record = self._record(generation)
        if record is None:
            return None, None
        layer = self.cache.layer(record.age_layer_cid, record.age_layer)
        if layer is not None and layer.generation != generation:
            layer = None  # a layer of another generation: worth nothing here
        return record.age_layer_cid, layer

    def size(self) -> tuple[int, int]:
        """(width, height) of the token's images: from any readable age layer, else from any image."""
        for record in reversed(self.history.records):
            layer = self.cache.layer(record.age_layer_cid, record.age_layer)
            if layer is not None:
                height, width = layer.shape
                return width, height
            size = png_size(record.image_png)
            if size is not None:
                return size
        raise ProbeError(f"token {self.history.token_id} has no age layer or image IPFS can serve yet: nothing "
                         "says how large its image is (wait for the renderer's first commit)")

    def painted(self, generation: int, width: int, height: int) -> tuple[np.ndarray | None, str]:
        """(sorted flat indices the generation painted, source); indices None when neither its layer nor
        its event can say."""
        event = self.history.events.get(generation)
        cid, layer = self._layer_of(generation)
        if layer is not None and layer.shape == (height, width):
            indices = self.cache.painted(("layer", cid), lambda: np.flatnonzero(layer.born.reshape(-1) == generation))
            return indices, "age layer"
        if event is None:
            return None, "unknown"
        if event.kind in CARRIED:
            return np.zeros(0, dtype=np.int64), "mask"
        compute = MASKS.get(event.kind)
        if compute is None:
            return None, "unknown"
        key = ("mask", event.kind, event.tx_hash, event.log_index, width, height)
        return self.cache.painted(key, lambda: np.asarray(compute(event, width, height))), "mask"

    def probe(self, x: int, y: int, generation: int | None = None) -> PixelAge:
        history = self.history
        token_id = history.token_id
        if generation is None:
            generation = self.latest
            if generation is None:
                raise ProbeError(f"token {token_id} has no rendered generation yet: wait for the renderer's "
                                 "first commit, or name one with --generation")
        newest = max(history.events)
        if not 0 <= generation <= newest:
            raise ProbeError(f"token {token_id} has generations 0 to {newest} on-chain; there is no "
                             f"generation {generation}")
        width, height = self.size()
        if not (0 <= x < width and 0 <= y < height):
            raise OutsideImage(x, y, width, height)
        pixel = y * width + x

        notes: list[str] = []
        mint = history.events.get(0)
        events = [Paint(0, "mint", mint and mint.block_number, mint and mint.tx_hash, "mint")]
        for g in range(1, generation + 1):
            indices, source = self.painted(g, width, height)
            if indices is None:
                kind = history.events[g].kind if g in history.events else "?"
                notes.append(f"generation {g} ({kind}): its age layer is not readable and a {kind}'s mask cannot be "
                             "recomputed here, so whether it painted this pixel is unknown")
                continue
            position = np.searchsorted(indices, pixel)
            if position < len(indices) and indices[position] == pixel:
                event = history.events.get(g)
                events.append(Paint(g, event and event.kind, event and event.block_number, event and event.tx_hash,
                                    source))

        blended = []
        for g in range(1, generation + 1):
            event = history.events.get(g)
            if event is None or event.kind not in BLENDS:
                continue
            compute, name = BLENDS[event.kind]
            key = ("blend", event.kind, event.tx_hash, event.log_index, width, height)
            try:
                alpha = self.cache.painted(key, lambda: np.asarray(compute(event, width, height)))
            except (ImportError, KeyError, ValueError) as exc:
                notes.append(f"generation {g} ({event.kind}): its blended layer cannot be placed here ({exc})")
                continue
            if alpha[y, x] > 0:
                blended.append(Blend(g, event.kind, event.block_number, event.tx_hash, int(alpha[y, x]),
                                     event.args.get(name)))

        cid, layer = self._layer_of(generation)
        by_masks = (events[-1].generation, len(events) - 1)
        if layer is not None and layer.shape == (height, width):
            born_generation, repaints = int(layer.born[y, x]), int(layer.count[y, x])
            source = f"age layer {cid}"
            if (born_generation, repaints) != by_masks and not notes:
                notes.append(f"generation {generation}'s age layer says born {born_generation}, repainted {repaints} "
                             f"times; the generations' own layers and masks say born {by_masks[0]}, repainted "
                             f"{by_masks[1]} times (`chaos verify {token_id}` checks each layer)")
        else:
            born_generation, repaints = by_masks
            source = "masks"
        born = next((p for p in events if p.generation == born_generation), None)
        if born is None:
            event = history.events.get(born_generation)
            born = Paint(born_generation, event and event.kind, event and event.block_number,
                         event and event.tx_hash, "age layer")
        return PixelAge(token_id, generation, x, y, width, height, born, repaints, generation - born_generation,
                        events, source, notes, blended)


def probe_token(canvas, ipfs, token_id: int, x: int, y: int, generation: int | None = None,
                from_block: int = 0) -> PixelAge:
    """`chaos age TOKEN --pixel X,Y`: one walk of the token's history, then the probe."""
    from .provenance import load_history

    try:
        history = load_history(canvas, ipfs, token_id, from_block)
    except LookupError as exc:
        raise ProbeError(str(exc).strip("'\"")) from None
    return TokenAges(history).probe(x, y, generation)

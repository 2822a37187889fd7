"""animation_url: the evolution so far as an APNG, assembled from the pinned PNGs' own streams."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from renderer.animation import FRAMES, decode_frames, next_animation
from renderer.backends.noise import NoiseBackend
from renderer.cid import file_cid
from renderer.png import decode_png
from renderer.render import Origin, Parent, render

from .events import mint_event, mutation_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _generations(count, size=48, external_url=None):
    origin = Origin.from_mint(mint_event())
    rendered = [render(mint_event(), origin, None, NoiseBackend(), chain_id=31337, canvas=CANVAS, size=size,
                       external_url=external_url)]
    for generation in range(1, count):
        last = rendered[-1]
        parent = Parent(last.image_png, last.metadata_cid, last.age_layer, last.animation)
        rendered.append(render(mutation_event(generation=generation, entropy="0x" + f"{generation:02x}" * 32),
                               origin, parent, NoiseBackend(), chain_id=31337, canvas=CANVAS, size=size,
                               external_url=external_url))
    return rendered


def test_each_animation_holds_the_newest_generations_bounded_and_plays_in_pillow():
    history = _generations(FRAMES + 3)
    for generation, rendered in enumerate(history):
        frames = decode_frames(rendered.animation)
        newest = history[max(0, generation - FRAMES + 1):generation + 1]
        assert len(frames) == min(FRAMES, generation + 1)
        assert all(np.array_equal(f, decode_png(r.image_png)) for f, r in zip(frames, newest))
        document = json.loads(rendered.metadata)
        assert document["animation_url"] == f"ipfs://{rendered.animation_cid}"
        assert rendered.animation_cid == file_cid(rendered.animation)
    with Image.open(io.BytesIO(history[-1].animation)) as apng:  # a real APNG reader agrees
        assert apng.n_frames == FRAMES and apng.is_animated
        apng.seek(FRAMES - 1)
        assert np.array_equal(np.asarray(apng.convert("RGB")), decode_png(history[-1].image_png))


def test_the_animation_is_deterministic_and_reuses_the_pinned_streams():
    a, b = _generations(3), _generations(3)
    assert [r.animation for r in a] == [r.animation for r in b]
    # The animation carries each frame's compressed stream as pinned: no bigger than the PNGs it holds.
    assert len(a[2].animation) < sum(len(r.image_png) for r in a) + 400


def test_a_parent_without_an_animation_starts_from_its_image():
    history = _generations(2)
    frames = decode_frames(next_animation(history[1].image_png, None, history[0].image_png))
    assert len(frames) == 2 and np.array_equal(frames[0], decode_png(history[0].image_png))
    assert len(decode_frames(next_animation(history[0].image_png))) == 1


def test_external_url_links_the_gallery_only_when_configured():
    assert "external_url" not in json.loads(_generations(1)[0].metadata)
    linked = json.loads(_generations(1, external_url="https://gallery.example/#/token/1")[0].metadata)
    assert linked["external_url"] == "https://gallery.example/#/token/1"


def test_the_gallery_url_and_congestion_threshold_settings_are_checked_from_the_environment():
    import pytest

    from renderer.config import from_environment
    from renderer.errors import SetupError
    from renderer.pipeline.dispatcher import Dispatcher
    from renderer.pipeline.options import PipelineOptions

    settings = from_environment({"CHAOS_GALLERY_URL": "https://gallery.example/",
                                 "CHAOS_CONGESTION_THRESHOLD_WEI": "7000000000"})
    options = PipelineOptions.from_settings(settings)
    assert options.gallery_url == "https://gallery.example" and options.congestion_threshold_wei == 7 * 10**9
    dispatcher = Dispatcher(None, chain_id=1, canvas=CANVAS, size=64, gallery_url=options.gallery_url)
    assert dispatcher.external_url(5) == "https://gallery.example/#/token/5"
    with pytest.raises(SetupError, match="must start with http"):
        PipelineOptions.from_settings(from_environment({"CHAOS_GALLERY_URL": "gallery.example"}))
    with pytest.raises(SetupError, match="positive number of wei"):
        PipelineOptions.from_settings(from_environment({"CHAOS_CONGESTION_THRESHOLD_WEI": "0"}))


# ------------------------------------------------- chunks copied from the parent, not rebuilt

from renderer.animation import _chunk, animation_parts, encode_animation, still_parts  # noqa: E402


def _rebuilt(image_png, parent_animation=None, parent_png=None):
    """The animation as encode_animation builds it from the frames' streams: what next_animation,
    which copies the parent's chunks where it can, must give byte for byte."""
    header, data = still_parts(image_png)
    frames, parent_header = [], header
    if parent_animation is not None:
        parent_header, frames = animation_parts(parent_animation)
    elif parent_png is not None:
        parent_header, frames = still_parts(parent_png)[0], [still_parts(parent_png)[1]]
    if parent_header != header:
        frames = []
    return encode_animation(header, [*frames, data][-FRAMES:])


def _split_chunks(apng: bytes, kinds=(b"IDAT", b"fdAT")) -> bytes:
    """The same picture with every data chunk cut in two (as other PNG writers do): nothing to copy whole."""
    out, offset = [apng[:8]], 8
    while offset < len(apng):
        length = int.from_bytes(apng[offset:offset + 4], "big")
        kind, payload = apng[offset + 4:offset + 8], apng[offset + 8:offset + 8 + length]
        if kind in kinds and length > 8:
            head = payload[:4] if kind == b"fdAT" else b""
            body = payload[len(head):]
            middle = len(body) // 2
            out += [_chunk(kind, head + body[:middle]), _chunk(kind, head + body[middle:])]
        else:
            out.append(apng[offset:offset + 12 + length])
        offset += 12 + length
    return b"".join(out)


def test_copying_the_parents_chunks_gives_the_bytes_of_a_full_rebuild():
    history = _generations(FRAMES + 3, size=40)
    for parent, child in zip(history, history[1:]):  # growing to FRAMES frames, then dropping the oldest
        assert next_animation(child.image_png, parent.animation) == _rebuilt(child.image_png, parent.animation)
        split = _split_chunks(parent.animation)
        assert next_animation(child.image_png, split) == _rebuilt(child.image_png, split)
        assert next_animation(child.image_png, split) == next_animation(child.image_png, parent.animation)
    first, second = history[0], history[1]
    assert next_animation(first.image_png) == _rebuilt(first.image_png) == first.animation
    assert next_animation(second.image_png, None, first.image_png) == _rebuilt(second.image_png, None, first.image_png)
    split_png = _split_chunks(first.image_png)
    assert next_animation(split_png) == next_animation(first.image_png)
    assert next_animation(second.image_png, None, split_png) == _rebuilt(second.image_png, None, first.image_png)
    other_size = _generations(1, size=24)[0]
    assert next_animation(other_size.image_png, history[5].animation) == other_size.animation


def test_a_damaged_parent_animation_is_refused():
    import pytest

    history = _generations(3, size=24)
    damaged = bytearray(history[2].animation)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(ValueError, match="damaged"):
        next_animation(history[2].image_png, bytes(damaged))
    with pytest.raises(ValueError, match="IEND"):
        next_animation(history[2].image_png, history[2].animation[:-12])
    with pytest.raises(ValueError, match="signature"):
        next_animation(history[2].image_png, b"GIF89a" + history[2].animation[6:])

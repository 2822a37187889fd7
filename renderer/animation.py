"""The evolution so far as an animated PNG (APNG): what marketplaces play from `animation_url`.

Each generation's animation is its parent's animation with this generation's image appended,
keeping the newest FRAMES generations (8: a bounded file however long the token lives):

    frames(mint)       = [image]
    frames(generation) = (frames(parent animation), or [parent image] for a parent rendered
                          before animations existed) + [image], the last FRAMES of them

The bytes are assembled, never re-compressed: every frame is one zlib stream, and a frame's
stream is exactly the IDAT data of that generation's pinned PNG (`renderer.png.encode_png`),
copied from the parent's animation or the new image. So the animation costs no deflate at
all, and its bytes follow from the parent's animation and the new image's bytes alone.

Layout: PNG signature, IHDR, acTL (frame count, loop forever), then per frame an fcTL
(full-size, at 0,0, no dispose, source blend; FRAME_MS per frame, HOLD_MS on the newest)
and its data (IDAT for the first frame, which is also the still image non-APNG readers
show; fdAT for the others), IEND. Sequence numbers count fcTL and fdAT chunks from 0.

`chaos verify` decodes the frames and compares each with the pinned image of its generation.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from .png import decode_png

FRAMES = 8
FRAME_MS = 500
HOLD_MS = 2000
FORMAT = "apng"

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _chunks(data: bytes):
    """(kind, payload) of every chunk of a PNG or APNG; ValueError for anything else."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG: the signature is missing")
    offset = len(_SIGNATURE)
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        kind, payload = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        crc = data[offset + 8 + length:offset + 12 + length]
        if len(payload) != length or len(crc) != 4 or zlib.crc32(kind + payload) != int.from_bytes(crc, "big"):
            raise ValueError(f"a damaged {kind!r} chunk at byte {offset}")
        yield kind, payload
        if kind == b"IEND":
            return
        offset += 12 + length
    raise ValueError("the PNG ends without an IEND chunk")


def still_parts(png: bytes) -> tuple[bytes, bytes]:
    """(IHDR payload, the one zlib stream of its IDAT chunks) of a still PNG."""
    header, idat = None, []
    for kind, payload in _chunks(png):
        if kind == b"IHDR":
            header = payload
        elif kind == b"IDAT":
            idat.append(payload)
    if header is None or not idat:
        raise ValueError("a PNG without IHDR or IDAT")
    return header, b"".join(idat)


def animation_parts(apng: bytes) -> tuple[bytes, list[bytes]]:
    """(IHDR payload, each frame's zlib stream) of an animation this module wrote."""
    header, frames, current = None, [], None
    for kind, payload in _chunks(apng):
        if kind == b"IHDR":
            header = payload
        elif kind == b"fcTL":
            current = []
            frames.append(current)
        elif kind == b"IDAT" and current is not None:
            current.append(payload)
        elif kind == b"fdAT" and current is not None:
            current.append(payload[4:])  # after the sequence number
    if header is None or not frames or any(not f for f in frames):
        raise ValueError("not an animated PNG with data in every frame")
    return header, [b"".join(f) for f in frames]


def encode_animation(header: bytes, frames: list[bytes]) -> bytes:
    """An APNG of full-size frames (zlib streams of filtered rows, as in a still PNG's IDAT)."""
    width, height = struct.unpack_from(">II", header)
    out = [_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"acTL", struct.pack(">II", len(frames), 0))]
    sequence = 0
    for index, data in enumerate(frames):
        delay = HOLD_MS if index == len(frames) - 1 else FRAME_MS
        out.append(_chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, delay, 1000, 0, 0)))
        sequence += 1
        if index == 0:
            out.append(_chunk(b"IDAT", data))
        else:
            out.append(_chunk(b"fdAT", struct.pack(">I", sequence) + data))
            sequence += 1
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)


def next_animation(image_png: bytes, parent_animation: bytes | None = None,
                   parent_png: bytes | None = None) -> bytes:
    """The animation of a generation: the parent's frames (or the parent's image) + this image, last FRAMES.

    The bytes are `encode_animation(header, frames)`'s. A frame whose data came as one chunk that
    is already what encode_animation writes at the frame's new place (the same kind and, for
    fdAT, the same sequence number: every frame while the animation is still growing) is copied
    whole, CRC included, instead of being re-checksummed: about a megabyte per generation."""
    header, image_frame = _still_frame(image_png)
    frames: list[_Frame] = []
    if parent_animation is not None:
        parent_header, frames = _animation_frames(parent_animation)
    elif parent_png is not None:
        parent_header, parent_frame = _still_frame(parent_png)
        frames = [parent_frame]
    if frames and parent_header != header:
        frames = []  # another size (a degraded mint's successor, say): the animation starts again
    return _assemble(header, [*frames, image_frame][-FRAMES:])


class _Frame:
    """One frame's zlib stream, in the chunks it came in; `chunk` is the whole serialised chunk
    (length, kind, payload, CRC) when there was exactly one, with its kind and sequence number."""

    __slots__ = ("parts", "chunk", "kind", "sequence")

    def __init__(self):
        self.parts: list = []
        self.chunk = self.kind = self.sequence = None

    def add(self, kind: bytes, data, chunk, sequence: int | None) -> None:
        self.parts.append(data)
        if len(self.parts) == 1:
            self.chunk, self.kind, self.sequence = chunk, kind, sequence
        else:
            self.chunk = None

    def data(self):
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


def _spans(data: bytes):
    """(kind, payload, whole chunk) of every chunk, as memoryviews into `data`; the checks and
    errors of `_chunks`."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG: the signature is missing")
    view = memoryview(data)
    offset = len(_SIGNATURE)
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        kind = data[offset + 4:offset + 8]
        end = offset + 12 + length
        payload = view[offset + 8:offset + 8 + length]
        crc = data[offset + 8 + length:end]
        if (len(payload) != length or len(crc) != 4
                or zlib.crc32(payload, zlib.crc32(kind)) != int.from_bytes(crc, "big")):
            raise ValueError(f"a damaged {kind!r} chunk at byte {offset}")
        yield kind, payload, view[offset:end]
        if kind == b"IEND":
            return
        offset = end
    raise ValueError("the PNG ends without an IEND chunk")


def _still_frame(png: bytes) -> tuple[bytes, _Frame]:
    """`still_parts` as a frame that keeps its IDAT chunk."""
    header, frame = None, _Frame()
    for kind, payload, chunk in _spans(png):
        if kind == b"IHDR":
            header = bytes(payload)
        elif kind == b"IDAT":
            frame.add(kind, payload, chunk, None)
    if header is None or not frame.parts:
        raise ValueError("a PNG without IHDR or IDAT")
    return header, frame


def _animation_frames(apng: bytes) -> tuple[bytes, list[_Frame]]:
    """`animation_parts` as frames that keep their chunks."""
    header, frames, current = None, [], None
    for kind, payload, chunk in _spans(apng):
        if kind == b"IHDR":
            header = bytes(payload)
        elif kind == b"fcTL":
            current = _Frame()
            frames.append(current)
        elif kind == b"IDAT" and current is not None:
            current.add(kind, payload, chunk, None)
        elif kind == b"fdAT" and current is not None:
            current.add(kind, payload[4:], chunk, int.from_bytes(payload[:4], "big"))
    if header is None or not frames or any(not f.parts for f in frames):
        raise ValueError("not an animated PNG with data in every frame")
    return header, frames


def _assemble(header: bytes, frames: list[_Frame]) -> bytes:
    """encode_animation(header, [frame data...]), copying the chunks that are already right."""
    width, height = struct.unpack_from(">II", header)
    out = [_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"acTL", struct.pack(">II", len(frames), 0))]
    sequence = 0
    for index, frame in enumerate(frames):
        delay = HOLD_MS if index == len(frames) - 1 else FRAME_MS
        out.append(_chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, delay, 1000, 0, 0)))
        sequence += 1
        kind, number = (b"IDAT", None) if index == 0 else (b"fdAT", sequence)
        if frame.chunk is not None and (frame.kind, frame.sequence) == (kind, number):
            out.append(frame.chunk)
        else:
            prefix = kind if number is None else kind + struct.pack(">I", number)
            data = frame.data()
            crc = zlib.crc32(data, zlib.crc32(prefix))
            out += [struct.pack(">I", len(prefix) - 4 + len(data)), prefix, data, struct.pack(">I", crc)]
        if number is not None:
            sequence += 1
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)


def decode_frames(apng: bytes) -> list[np.ndarray]:
    """Each frame's pixels, oldest first."""
    header, frames = animation_parts(apng)
    return [decode_png(_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
            for data in frames]

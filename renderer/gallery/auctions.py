"""The gallery's Last Frame auctions: `/api/auctions` (and the page's `#/auctions`, static/auctions.js).

Open auctions with their windows (bidding until `commit_end`, revealing until `reveal_end`, chain
time), and the Last Frames already settled: sold (price, winner) or handed to the holder for want
of a valid bid. Each frame names the canvas generation it shows, its image and its metadata CID
(the generation's provenance) and the Phoenix generation that ended it.

The auction is the one `chaos deploy` recorded, given as CHAOS_AUCTION (or the gallery's
`auction_address`); without one the answer says so and lists nothing. Frame images are canvas
generations that the renderer's key put on sale, so the gallery serves them under /ipfs/ like
the canvas's own.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()


def _contracts(gallery, address: str):
    """(auction, frames) web3 contracts, opened once per gallery."""
    from ..auction import frames_of, open_auction

    with _lock:
        cached = getattr(gallery, "_auction_contracts", None)
        if cached is None or cached[0].address.lower() != address.lower():
            auction = open_auction(gallery.canvas.w3, address)
            cached = (auction, frames_of(auction))
            gallery._auction_contracts = cached
        return cached


def auctions_json(gallery) -> dict:
    """The payload of `/api/auctions`: {"auction", "now", "open": [...], "settled": [...]}, newest first."""
    from ..auction import list_auctions

    address = getattr(gallery, "auction_address", None) or os.environ.get("CHAOS_AUCTION")
    if not address:
        return {"auction": None, "now": None, "open": [], "settled": [],
                "note": "no Last Frame auction configured: set CHAOS_AUCTION to the address `chaos deploy` recorded"}
    auction, frames = _contracts(gallery, address)
    now = gallery.canvas.w3.eth.get_block("latest")["timestamp"]
    open_, settled = [], []
    for view in reversed(list_auctions(auction)):
        frame = frames.functions.frame(view.auction_id).call()
        _, generation, phoenix_generation, metadata_cid, image_cid = frame
        gallery._known.update((metadata_cid, image_cid))  # see the module's docstring
        item = {"auction_id": view.auction_id, "token_id": view.canvas_token_id, "generation": generation,
                "phoenix_generation": phoenix_generation, "image_cid": image_cid, "metadata_cid": metadata_cid,
                "holder": view.holder, "phase": view.phase, "commit_end": view.commit_end,
                "reveal_end": view.reveal_end, "reserve_wei": str(view.reserve), "bids": view.bids,
                "holder_bps": view.holder_bps}
        if view.settled:
            sold = view.leader is not None
            item.update(sold=sold, price_wei=str(view.highest_bid if sold else 0), owner=view.frame_owner)
            settled.append(item)
        else:
            open_.append(item)
    return {"auction": auction.address, "now": now, "open": open_, "settled": settled}

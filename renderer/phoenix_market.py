"""The daemon's report of a Phoenix rebirth to the Last Frame auction.

When a generation G of a token was reborn by Phoenix (its metadata's `provenance.phoenix` has a
level >= 1) and G > 0, the generation G - 1 (the last frame the GPU drew at full strength) goes
on sale: `LastFrameAuction.open(token, G - 1, G, metadata CID of G - 1, image CID of G - 1)`.

Idempotent: the contract refuses a second opening of the same (token, generation), and this
module asks `auctionOf` first, so a daemon that restarts, retries or re-reads the same job opens
nothing twice. It runs after the Phoenix generation's commit settled (a fact on chain, not a
forecast), so the auction never sells the frame of a rebirth that was rolled back.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3.exceptions import Web3Exception
from web3.logs import DISCARD

from . import transactions
from .errors import ChaosError

log = logging.getLogger("chaos.phoenix")


@dataclass(frozen=True)
class FrameSale:
    token_id: int
    generation: int  # the frame: the generation before the rebirth
    phoenix_generation: int
    metadata_cid: str
    image_cid: str


def phoenix_level(metadata: dict) -> int:
    """The Phoenix level a metadata document records (0: rendered at full strength)."""
    block = (metadata.get("provenance") or {}).get("phoenix")
    return int(block.get("level", 0)) if block else 0


def frame_sale(job, parent) -> FrameSale | None:
    """The frame `job`'s rebirth puts on sale, or None (no rebirth, a mint, or the parent unknown).
    `job` and `parent` are the job store's rows of generations G and G - 1."""
    if job.generation == 0 or job.metadata_path is None:
        return None
    metadata = json.loads(Path(job.metadata_path).read_text())
    if phoenix_level(metadata) < 1:
        return None
    if parent is None or not parent.metadata_cid or not parent.image_cid:
        log.warning("phoenix: token %d generation %d was reborn, but generation %d has no pinned render here: "
                    "its frame cannot be auctioned", job.token_id, job.generation, job.generation - 1)
        return None
    return FrameSale(job.token_id, job.generation - 1, job.generation, parent.metadata_cid, parent.image_cid)


def open_frame_auction(auction, account: LocalAccount, sale: FrameSale) -> tuple[int, bool]:
    """Open the auction of `sale` unless it is open already; returns (auction id, opened now)."""
    existing = auction.functions.auctionOf(sale.token_id, sale.generation).call()
    if existing:
        return existing, False
    call = auction.functions.open(sale.token_id, sale.generation, sale.phoenix_generation, sale.metadata_cid,
                                  sale.image_cid)
    receipt = transactions.transact(auction.w3, account, call)
    (event,) = auction.events.AuctionOpened().process_receipt(receipt, errors=DISCARD)
    log.info("phoenix: token %d generation %d reborn; auction %d opened for its last frame (generation %d)",
             sale.token_id, sale.phoenix_generation, event.args.auctionId, sale.generation,
             extra={"event": "auction-opened"})
    return event.args.auctionId, True


def report_phoenix(auction, account: LocalAccount, store, job) -> int | None:
    """The daemon's hook, for a job whose commit settled: open its frame's auction if it was reborn.
    Returns the auction id, or None when the job is no rebirth."""
    sale = frame_sale(job, store.job(job.token_id, job.generation - 1) if job.generation else None)
    if sale is None:
        return None
    auction_id, _ = open_frame_auction(auction, account, sale)
    return auction_id


class PhoenixMarket:
    """A daemon stage after the commit stage: every job whose commit settled (committed, or covered
    by a later generation's commit) is looked at once; a Phoenix rebirth opens its frame's auction.

    Jobs are remembered in memory only: after a restart each settled job is looked at again (its
    metadata file read, and for a rebirth one `auctionOf` call), which opens nothing twice."""

    def __init__(self, auction, account: LocalAccount, store):
        self.auction = auction
        self.account = account
        self.store = store
        self._seen: set[tuple[int, int]] = set()

    def report_settled(self) -> int:
        """Open the auctions of newly settled rebirths; returns how many were opened now."""
        opened = 0
        for state in ("committed", "covered"):
            for job in self.store.jobs(state):
                if job.key in self._seen:
                    continue
                sale = frame_sale(job, self.store.job(job.token_id, job.generation - 1) if job.generation else None)
                if sale is not None:
                    try:
                        opened += open_frame_auction(self.auction, self.account, sale)[1]
                    except (ChaosError, Web3Exception) as exc:  # tried again next pass; rendering goes on
                        log.warning("phoenix: the auction of token %d generation %d did not open: %s",
                                    sale.token_id, sale.generation, exc)
                        continue
                self._seen.add(job.key)
        return opened


def open_market(w3, account: LocalAccount, store, address: str | None = None) -> PhoenixMarket | None:
    """The daemon's PhoenixMarket for the auction at `address` (default CHAOS_AUCTION), or None
    when no auction is configured or the renderer cannot open auctions there (logged)."""
    import os

    from .auction import open_auction

    address = address or os.environ.get("CHAOS_AUCTION")
    if not address:
        return None
    auction = open_auction(w3, address)
    role = auction.functions.OPENER_ROLE().call()
    if not auction.functions.hasRole(role, account.address).call():
        log.warning("phoenix: %s lacks OPENER_ROLE on the auction %s: Phoenix frames will not be auctioned",
                    account.address, auction.address)
        return None
    return PhoenixMarket(auction, account, store)

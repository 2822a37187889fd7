"""The Last Frame auction from a collector's side: list, bid, reveal, withdraw, settle.

Every write is signed locally with the collector's key (like `renderer.wallet`). A bid's salt
is the only thing that can reveal it: `bid` writes it, with the bid, to a secrets file under
the output folder (`OUT/auction-secrets/<auction address>/<auction id>-<commit index>.json`)
before the commit is sent, and `reveal` reads it from there unless given explicitly.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from . import transactions
from .abi import load_abi
from .chain import attach_contract
from .errors import ChaosError


class AuctionInputError(ChaosError):
    """An auction action the contract would refuse; says what to do instead."""


def open_auction(w3: Web3, address: str | None):
    """The LastFrameAuction contract at `address` (from --auction or CHAOS_AUCTION)."""
    address = address or os.environ.get("CHAOS_AUCTION")
    if not address:
        raise ChaosError("no auction address: give --auction ADDRESS or set CHAOS_AUCTION "
                         "(`chaos deploy` records it as \"auction\")")
    return attach_contract(w3, address, "LastFrameAuction", "--auction")


def frames_of(auction):
    """The LastFrame token contract the auction mints."""
    return auction.w3.eth.contract(address=auction.functions.frames().call(), abi=load_abi("LastFrame"))


def commitment(bid_wei: int, salt: bytes, bidder: str) -> bytes:
    """keccak256(abi.encode(bid, salt, bidder)): what a commit hides."""
    return keccak(encode(["uint256", "bytes32", "address"], [bid_wei, salt, Web3.to_checksum_address(bidder)]))


@dataclass(frozen=True)
class AuctionView:
    auction_id: int
    canvas_token_id: int
    generation: int
    phoenix_generation: int
    holder: str
    commit_end: int
    reveal_end: int
    reserve: int
    holder_bps: int
    forfeit_bps: int
    settled: bool
    highest_bid: int
    leader: int | None  # commit index of the leading revealed bid
    bids: int
    phase: str  # "bidding", "revealing", "settle-able", "settled"
    frame_owner: str | None  # the Last Frame token's owner once settled

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _phase(now: int, commit_end: int, reveal_end: int, settled: bool) -> str:
    if settled:
        return "settled"
    if now < commit_end:
        return "bidding"
    if now < reveal_end:
        return "revealing"
    return "settle-able"


def read_auction(auction, auction_id: int, now: int | None = None, frames=None) -> AuctionView:
    count = auction.functions.auctionCount().call()
    if not 1 <= auction_id <= count:
        raise AuctionInputError(f"auction {auction_id} does not exist: auctions run from 1 to {count}"
                                if count else "no auction has been opened yet")
    a = auction.functions.auction(auction_id).call()
    (token, holder, commit_end, reveal_end, holder_bps, generation, phoenix_generation, reserve, forfeit_bps,
     settled, highest, leader, bids) = a
    now = auction.w3.eth.get_block("latest")["timestamp"] if now is None else now
    owner = None
    if settled:
        frames = frames or frames_of(auction)
        owner = frames.functions.ownerOf(auction_id).call()
    return AuctionView(auction_id, token, generation, phoenix_generation, holder, commit_end, reveal_end, reserve,
                       holder_bps, forfeit_bps, settled, highest, leader - 1 if leader else None, bids,
                       _phase(now, commit_end, reveal_end, settled), owner)


def list_auctions(auction) -> list[AuctionView]:
    now = auction.w3.eth.get_block("latest")["timestamp"]
    frames = frames_of(auction)
    return [read_auction(auction, i, now, frames) for i in range(1, auction.functions.auctionCount().call() + 1)]


def _eth(wei: int) -> str:
    return f"{Web3.from_wei(wei, 'ether'):f}".rstrip("0").rstrip(".") + " ETH"


def format_auctions(views: list[AuctionView], now: int) -> str:
    if not views:
        return "no Last Frame auction yet: one opens when a render is reborn by Phoenix"
    lines = [f"{'id':>3}  {'frame':<18} {'phase':<11} {'bids':>4}  {'reserve':<14} window / result"]
    for v in views:
        frame = f"#{v.canvas_token_id} gen {v.generation}->{v.phoenix_generation}"
        if v.phase == "bidding":
            result = f"bidding closes in {v.commit_end - now} s (at {v.commit_end}); reveal until {v.reveal_end}"
        elif v.phase == "revealing":
            leading = f"; leading {_eth(v.highest_bid)} (commit {v.leader})" if v.leader is not None else ""
            result = f"reveal closes in {v.reveal_end - now} s (at {v.reveal_end}){leading}"
        elif v.phase == "settle-able":
            result = "ready to settle: `chaos auction settle " + str(v.auction_id) + "`"
        elif v.leader is not None:
            result = f"sold for {_eth(v.highest_bid)} to {v.frame_owner}"
        else:
            result = f"no valid bid: frame went to the holder {v.frame_owner}"
        lines.append(f"{v.auction_id:>3}  {frame:<18} {v.phase:<11} {v.bids:>4}  {_eth(v.reserve):<14} {result}")
    return "\n".join(lines)


# ------------------------------------------------------------------- secrets


def secrets_dir(out_dir: Path, auction) -> Path:
    return Path(out_dir) / "auction-secrets" / auction.address


def _secret_path(out_dir: Path, auction, auction_id: int, index: int) -> Path:
    return secrets_dir(out_dir, auction) / f"{auction_id}-{index}.json"


# ------------------------------------------------------------------- actions


def bid(auction, account: LocalAccount, auction_id: int, bid_wei: int, deposit_wei: int | None,
        out_dir: Path) -> tuple[int, Path, str]:
    """Commit a sealed bid of `bid_wei`, depositing `deposit_wei` (default: the bid; more hides it).
    Returns (commit index, secrets file, transaction hash)."""
    view = read_auction(auction, auction_id)
    deposit = bid_wei if deposit_wei is None else deposit_wei
    if view.phase != "bidding":
        raise AuctionInputError(f"auction {auction_id} is {view.phase}: bids were taken until {view.commit_end}")
    if bid_wei > deposit:
        raise AuctionInputError(f"the bid ({_eth(bid_wei)}) is above the deposit ({_eth(deposit)}): it could "
                                "never be revealed; deposit at least the bid")
    if deposit < view.reserve:
        raise AuctionInputError(f"the deposit ({_eth(deposit)}) is under the reserve ({_eth(view.reserve)})")
    if bid_wei < view.reserve:
        raise AuctionInputError(f"the bid ({_eth(bid_wei)}) is under the reserve ({_eth(view.reserve)}): "
                                "it could not win")
    balance = auction.w3.eth.get_balance(account.address)
    if balance < deposit:
        raise AuctionInputError(f"{account.address} holds {_eth(balance)}, less than the deposit {_eth(deposit)}")
    salt = secrets.token_bytes(32)
    folder = secrets_dir(out_dir, auction)
    folder.mkdir(parents=True, exist_ok=True)
    pending = folder / f"{auction_id}-pending-{salt.hex()[:16]}.json"
    secret = {"auction": auction.address, "auction_id": auction_id, "bidder": account.address, "bid_wei": str(bid_wei),
              "deposit_wei": str(deposit), "salt": "0x" + salt.hex()}
    # Written before the commit leaves: a crash after sending must not lose the only way to reveal.
    pending.write_text(json.dumps(secret, indent=2))
    pending.chmod(0o600)
    receipt = transactions.transact(auction.w3, account,
                                    auction.functions.commit(auction_id, commitment(bid_wei, salt, account.address)),
                                    value=deposit)
    (event,) = auction.events.BidCommitted().process_receipt(receipt, errors=DISCARD)
    index = event.args.index
    path = _secret_path(out_dir, auction, auction_id, index)
    pending.rename(path)
    return index, path, receipt["transactionHash"].to_0x_hex()


def load_secret(out_dir: Path, auction, auction_id: int, index: int) -> tuple[int, bytes]:
    path = _secret_path(out_dir, auction, auction_id, index)
    try:
        secret = json.loads(path.read_text())
    except OSError:
        raise AuctionInputError(f"no saved bid for auction {auction_id} commit {index} at {path}: give --bid-eth "
                                "and --salt as used when committing (or the --out of `chaos auction bid`)") from None
    return int(secret["bid_wei"]), bytes.fromhex(secret["salt"].removeprefix("0x"))


def reveal(auction, account: LocalAccount, auction_id: int, index: int, bid_wei: int, salt: bytes) -> tuple[bool, str]:
    """Reveal commit `index`; returns (leading now, transaction hash)."""
    view = read_auction(auction, auction_id)
    if view.phase != "revealing":
        when = (f"opens at {view.commit_end}" if view.phase == "bidding" else f"closed at {view.reveal_end}")
        raise AuctionInputError(f"auction {auction_id} is {view.phase}: the reveal window {when}")
    if index >= view.bids:
        raise AuctionInputError(f"auction {auction_id} has no commit {index} ({view.bids} commits)")
    b = auction.functions.bidOf(auction_id, index).call()
    bidder, deposit, stored, _, revealed, _ = b
    if revealed:
        raise AuctionInputError(f"commit {index} of auction {auction_id} is already revealed")
    if commitment(bid_wei, salt, bidder) != bytes(stored):
        raise AuctionInputError(f"bid {_eth(bid_wei)} with that salt does not match commit {index} of "
                                f"{bidder}: wrong salt or bid")
    if bid_wei > deposit:
        raise AuctionInputError(f"the bid {_eth(bid_wei)} is above its deposit {_eth(deposit)}: it cannot be revealed")
    receipt = transactions.transact(auction.w3, account, auction.functions.reveal(auction_id, index, bid_wei, salt))
    (event,) = auction.events.BidRevealed().process_receipt(receipt, errors=DISCARD)
    return event.args.leading, receipt["transactionHash"].to_0x_hex()


def settle(auction, account: LocalAccount, auction_id: int) -> tuple[str, int, str]:
    """Settle; returns (the frame's new owner, price in wei, transaction hash)."""
    view = read_auction(auction, auction_id)
    if view.phase != "settle-able":
        raise AuctionInputError(f"auction {auction_id} is {view.phase}"
                                + ("" if view.settled else f": it settles from {view.reveal_end}"))
    receipt = transactions.transact(auction.w3, account, auction.functions.settle(auction_id))
    (event,) = auction.events.AuctionSettled().process_receipt(receipt, errors=DISCARD)
    winner = event.args.winner if int(event.args.winner, 16) else event.args.holder
    return winner, event.args.price, receipt["transactionHash"].to_0x_hex()


def withdraw(auction, account: LocalAccount, auction_id: int | None = None) -> list[tuple[str, int, str]]:
    """Withdraw every settled commit of the account (in `auction_id`, or in every auction) and its holder
    share; returns [(what, wei, transaction hash)]. Raises when there is nothing to withdraw."""
    count = auction.functions.auctionCount().call()
    ids = [auction_id] if auction_id is not None else range(1, count + 1)
    done, waiting = [], []
    for aid in ids:
        view = read_auction(auction, aid)
        for index in range(view.bids):
            bidder, _, _, _, _, withdrawn = auction.functions.bidOf(aid, index).call()
            if bidder != account.address or withdrawn:
                continue
            if not view.settled:
                waiting.append(f"auction {aid} commit {index} ({view.phase})")
                continue
            receipt = transactions.transact(auction.w3, account, auction.functions.withdraw(aid, index))
            (event,) = auction.events.DepositWithdrawn().process_receipt(receipt, errors=DISCARD)
            what = f"auction {aid} commit {index}" + (f" (forfeited {_eth(event.args.forfeited)})"
                                                       if event.args.forfeited else "")
            done.append((what, event.args.amount, receipt["transactionHash"].to_0x_hex()))
    share = auction.functions.claimOf(account.address).call()
    if share:
        receipt = transactions.transact(auction.w3, account, auction.functions.claim())
        done.append(("holder share", share, receipt["transactionHash"].to_0x_hex()))
    if not done:
        hint = f"; waiting for settlement: {', '.join(waiting)}" if waiting else ""
        raise AuctionInputError(f"nothing to withdraw for {account.address}{hint}")
    return done


def format_eth(wei: int) -> str:
    return _eth(wei)

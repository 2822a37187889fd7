"""LastFrameAuction and LastFrame: sealed bids, reveals, settlement, pull payments, the frame token."""

import base64
import json
import re

import brownie
import pytest
from brownie.exceptions import VirtualMachineError
from brownie import chain
from phoenix_fixtures import *  # noqa: F401,F403  (fixtures)
from phoenix_fixtures import (COMMIT_WINDOW, FORFEIT_BPS, HOLDER_BPS, IMAGE_CID, METADATA_CID, RESERVE,
                              REVEAL_WINDOW, commitment, held, place, salt, to_reveal, to_settle)

ETHER = 10**18


def revert_values(exc, name):
    match = re.fullmatch(rf"{name}: (.*)", exc.value.revert_msg or "")
    assert match, f"expected {name}, got {exc.value.revert_msg!r}"
    return [int(x) if x.isdigit() else x for x in match.group(1).split(", ")]


def frame_json(frames, frame_id):
    uri = frames.tokenURI(frame_id)
    prefix = "data:application/json;base64,"
    assert uri.startswith(prefix)
    return json.loads(base64.b64decode(uri[len(prefix):]))


def test_open_fixes_holder_windows_and_describes_the_frame(auction, frames, renderer, alice, token, h):
    tx = auction.open(token, 0, 1, METADATA_CID, IMAGE_CID, {"from": renderer})
    auction_id = tx.return_value
    a = auction.auction(auction_id)
    start = h.block_time(tx)
    assert auction_id == 1 and auction.auctionOf(token, 0) == 1
    assert a["holder"] == alice and a["canvasTokenId"] == token
    assert (a["commitEnd"], a["revealEnd"]) == (start + COMMIT_WINDOW, start + COMMIT_WINDOW + REVEAL_WINDOW)
    assert (a["generation"], a["phoenixGeneration"], a["reserve"]) == (0, 1, RESERVE)
    assert tx.events["AuctionOpened"]["holder"] == alice
    assert frames.frame(1)["metadataCid"] == METADATA_CID and frames.frame(1)["imageCid"] == IMAGE_CID
    with h.reverts_with("ERC721NonexistentToken", 1):  # described, not minted before settlement
        frames.tokenURI(1)


def test_second_opening_of_a_frame_and_strangers_are_refused(auction, frames, renderer, alice, token, opened, h):
    with h.reverts_with("AuctionExists", token, 0, opened):
        auction.open(token, 0, 1, METADATA_CID, IMAGE_CID, {"from": renderer})
    with brownie.reverts():  # AccessControlUnauthorizedAccount: only the opener role
        auction.open(token, 1, 2, METADATA_CID, IMAGE_CID, {"from": alice})
    with brownie.reverts():  # the canvas's ownerOf refuses a token that does not exist
        auction.open(99, 0, 1, METADATA_CID, IMAGE_CID, {"from": renderer})
    with h.reverts_with("InvalidCid", "ipfs://x"):
        auction.open(token, 1, 2, "ipfs://x", IMAGE_CID, {"from": renderer})
    with h.reverts_with("NotAPhoenixSuccessor", 3, 3):
        auction.open(token, 3, 3, METADATA_CID, IMAGE_CID, {"from": renderer})
    with h.reverts_with("NotAuction", alice, auction):
        frames.mint(alice, 1, {"from": alice})
    with brownie.reverts():  # the frame contract's auction is set once
        frames.setAuction(alice, {"from": alice})


def test_several_bidders_winner_pays_losers_withdraw_in_full_shares_split(
        auction, frames, opened, alice, bob, carol, dave, treasury, h):
    bob_index, bob_salt = place(auction, opened, bob, 5 * 10**16, 2 * 10**17)  # deposit hides the bid
    carol_index, carol_salt = place(auction, opened, carol, 3 * 10**16, 3 * 10**16)
    dave_index, dave_salt = place(auction, opened, dave, 10**17, 10**17)  # never revealed
    assert auction.totalDeposits() == 33 * 10**16 == held(auction)
    to_reveal()
    assert auction.reveal(opened, bob_index, 5 * 10**16, bob_salt, {"from": bob}).events["BidRevealed"]["leading"]
    carol_tx = auction.reveal(opened, carol_index, 3 * 10**16, carol_salt, {"from": carol})
    assert not carol_tx.events["BidRevealed"]["leading"]
    to_settle()
    tx = auction.settle(opened, {"from": carol})
    price = 5 * 10**16
    holder_share = price * HOLDER_BPS // 10_000
    assert tx.events["AuctionSettled"]["winner"] == bob and tx.events["AuctionSettled"]["price"] == price
    assert frames.ownerOf(opened) == bob

    meta = frame_json(frames, opened)
    attributes = {a["trait_type"]: a["value"] for a in meta["attributes"]}
    assert attributes["Generation"] == 0 and attributes["Phoenix generation"] == 1
    assert attributes["Canvas token"] == 1 and attributes["Provenance"] == f"ipfs://{METADATA_CID}"
    assert meta["image"] == f"ipfs://{IMAGE_CID}" and "generation 0" in meta["name"]

    before = {who: who.balance() for who in (bob, carol, dave, alice, treasury)}
    gas_free = {"gas_price": 0}
    auction.withdraw(opened, carol_index, {"from": carol, **gas_free})
    auction.withdraw(opened, bob_index, {"from": bob, **gas_free})
    auction.withdraw(opened, dave_index, {"from": dave, **gas_free})
    auction.claim({"from": alice, **gas_free})
    auction.withdrawProceeds({"from": carol})
    forfeit = 10**17 * FORFEIT_BPS // 10_000
    assert carol.balance() - before[carol] == 3 * 10**16  # a loser gets the whole deposit back
    assert bob.balance() - before[bob] == 2 * 10**17 - price
    assert dave.balance() - before[dave] == 10**17 - forfeit
    assert alice.balance() - before[alice] == holder_share
    assert treasury.balance() - before[treasury] == price - holder_share + forfeit
    assert auction.balance() == 0 and auction.totalDeposits() == 0 == auction.totalClaims()


def test_wrong_salt_is_refused_and_the_right_one_still_reveals(auction, opened, bob, h):
    index, good = place(auction, opened, bob, 2 * 10**16, 2 * 10**16)
    to_reveal()
    with h.reverts_with("CommitmentMismatch", opened, index):
        auction.reveal(opened, index, 2 * 10**16, salt(), {"from": bob})
    with h.reverts_with("CommitmentMismatch", opened, index):  # the right salt with another bid
        auction.reveal(opened, index, 10**16, good, {"from": bob})
    auction.reveal(opened, index, 2 * 10**16, good, {"from": bob})
    with h.reverts_with("AlreadyRevealed", opened, index):
        auction.reveal(opened, index, 2 * 10**16, good, {"from": bob})


def test_early_and_late_reveals_are_refused(auction, opened, bob, h):
    index, s = place(auction, opened, bob, 2 * 10**16, 2 * 10**16)
    a = auction.auction(opened)
    with pytest.raises(VirtualMachineError) as exc:
        auction.reveal(opened, index, 2 * 10**16, s, {"from": bob})
    auction_id, now, commit_end = revert_values(exc, "RevealNotOpen")
    assert auction_id == opened and now < commit_end == a["commitEnd"]
    to_reveal()
    to_settle()
    with pytest.raises(VirtualMachineError) as exc:
        auction.reveal(opened, index, 2 * 10**16, s, {"from": bob})
    auction_id, now, reveal_end = revert_values(exc, "RevealClosed")
    assert now >= reveal_end == a["revealEnd"]
    with pytest.raises(VirtualMachineError) as exc:  # and bidding is long closed
        place(auction, opened, bob, RESERVE, RESERVE)
    assert revert_values(exc, "BiddingClosed")[0] == opened


def test_bid_above_deposit_cannot_be_revealed_and_forfeits(auction, opened, bob, carol, treasury, h):
    index, s = place(auction, opened, bob, 5 * 10**16, 2 * 10**16)
    with h.reverts_with("DepositBelowReserve", RESERVE - 1, RESERVE):
        place(auction, opened, carol, RESERVE, RESERVE - 1)
    to_reveal()
    with h.reverts_with("BidAboveDeposit", 5 * 10**16, 2 * 10**16):
        auction.reveal(opened, index, 5 * 10**16, s, {"from": bob})
    to_settle()
    assert auction.settle(opened).events["AuctionSettled"]["winner"] == h.ZERO_ADDRESS
    before = bob.balance()
    tx = auction.withdraw(opened, index, {"from": bob, "gas_price": 0})
    forfeit = 2 * 10**16 * FORFEIT_BPS // 10_000
    assert tx.events["DepositWithdrawn"]["forfeited"] == forfeit
    assert bob.balance() - before == 2 * 10**16 - forfeit
    assert auction.totalProceeds() == forfeit and held(auction) == auction.totalDeposits() == 0


def test_unrevealed_commit_forfeits_its_documented_share(auction, opened, bob, carol, h):
    place(auction, opened, bob, 2 * 10**16, 4 * 10**16)  # bob never reveals
    index, s = place(auction, opened, carol, 2 * 10**16, 2 * 10**16)
    to_reveal()
    auction.reveal(opened, index, 2 * 10**16, s, {"from": carol})
    to_settle()
    auction.settle(opened)
    tx = auction.withdraw(opened, 0, {"from": bob})
    forfeit = 4 * 10**16 * FORFEIT_BPS // 10_000
    assert tx.events["DepositWithdrawn"]["amount"] == 4 * 10**16 - forfeit
    assert tx.events["DepositWithdrawn"]["forfeited"] == forfeit
    # The winner's proceeds (the treasury's part) plus bob's forfeit.
    assert auction.totalProceeds() == 2 * 10**16 - 2 * 10**16 * HOLDER_BPS // 10_000 + forfeit
    assert held(auction) == auction.totalDeposits() == 0  # carol's deposit equalled her bid


def test_withdraw_rules_settlement_once(auction, opened, bob, carol, h):
    index, s = place(auction, opened, bob, 2 * 10**16, 3 * 10**16)
    with h.reverts_with("NotSettled", opened):
        auction.withdraw(opened, index, {"from": bob})
    to_reveal()
    with pytest.raises(VirtualMachineError) as exc:
        auction.settle(opened)
    assert revert_values(exc, "SettleTooEarly")[0] == opened
    auction.reveal(opened, index, 2 * 10**16, s, {"from": carol})  # anyone holding the salt may reveal
    to_settle()
    auction.settle(opened)
    with h.reverts_with("AlreadySettled", opened):
        auction.settle(opened)
    with h.reverts_with("NotBidder", carol, bob):
        auction.withdraw(opened, index, {"from": carol})
    with h.reverts_with("BidNotFound", opened, 7):
        auction.withdraw(opened, 7, {"from": bob})
    auction.withdraw(opened, index, {"from": bob})
    with h.reverts_with("AlreadyWithdrawn", opened, index):
        auction.withdraw(opened, index, {"from": bob})
    with h.reverts_with("NothingToPay", bob):
        auction.claim({"from": bob})
    with h.reverts_with("AuctionNotFound", 9):
        auction.settle(9)


def test_reentrant_bidder_is_paid_once(auction, opened, AuctionTestBidder, bob, h):
    bidder = AuctionTestBidder.deploy(auction, {"from": bob})
    s = salt()
    index = bidder.commit(opened, commitment(3 * 10**16, s, bidder), {"from": bob, "value": 5 * 10**16}).return_value
    to_reveal()
    bidder.reveal(opened, index, 3 * 10**16, s, {"from": bob})
    to_settle()
    auction.settle(opened)
    bidder.withdraw(opened, index, {"from": bob})
    assert bidder.payments() == 1 and not bidder.reentered()
    assert bytes(bidder.reentryError()) == bytes.fromhex("3ee5aeb5")  # ReentrancyGuardReentrantCall()
    assert bidder.balance() == 2 * 10**16  # deposit less its winning bid, once
    assert held(auction) == auction.totalDeposits() == 0


def test_no_bids_frame_goes_to_the_holder(auction, frames, opened, alice, bob, h):
    to_reveal()
    to_settle()
    tx = auction.settle(opened)
    assert tx.events["AuctionSettled"]["winner"] == h.ZERO_ADDRESS and tx.events["AuctionSettled"]["price"] == 0
    assert frames.ownerOf(opened) == alice
    assert auction.totalProceeds() == auction.totalClaims() == auction.balance() == 0


def test_bids_under_the_reserve_never_win_and_are_refunded(auction, frames, opened, alice, bob, h):
    index, s = place(auction, opened, bob, RESERVE - 1, RESERVE)
    to_reveal()
    assert not auction.reveal(opened, index, RESERVE - 1, s, {"from": bob}).events["BidRevealed"]["leading"]
    to_settle()
    auction.settle(opened)
    assert frames.ownerOf(opened) == alice
    assert auction.withdraw(opened, index, {"from": bob}).events["DepositWithdrawn"]["amount"] == RESERVE


def test_a_tie_goes_to_the_earliest_commit_whatever_the_reveal_order(auction, frames, opened, bob, carol, dave, h):
    bid = 4 * 10**16
    first, first_salt = place(auction, opened, carol, bid, 5 * 10**16)
    second, second_salt = place(auction, opened, bob, bid, bid)
    to_reveal()
    auction.reveal(opened, second, bid, second_salt, {"from": bob})  # the later commit reveals first
    assert auction.reveal(opened, first, bid, first_salt, {"from": carol}).events["BidRevealed"]["leading"]
    to_settle()
    tx = auction.settle(opened)
    assert tx.events["AuctionSettled"]["winner"] == carol and frames.ownerOf(opened) == carol
    assert auction.withdraw(opened, second, {"from": bob}).events["DepositWithdrawn"]["amount"] == bid
    assert auction.withdraw(opened, first, {"from": carol}).events["DepositWithdrawn"]["amount"] == 10**16


def test_parameters_bind_new_auctions_only(auction, admin, renderer, opened, token, alice, h):
    with h.reverts_with("InvalidShare", 10_001, 10_000):
        auction.setParameters(60, 60, 0, 10_001, 0, admin, {"from": admin})
    with h.reverts_with("InvalidWindow", 0, 60):
        auction.setParameters(0, 60, 0, 0, 0, admin, {"from": admin})
    with brownie.reverts():
        auction.setParameters(60, 60, 0, 0, 0, admin, {"from": alice})
    auction.setParameters(60, 60, 0, 10_000, 0, admin, {"from": admin})
    assert auction.auction(opened)["revealEnd"] - auction.auction(opened)["commitEnd"] == REVEAL_WINDOW
    tx = auction.open(token, 1, 2, METADATA_CID, IMAGE_CID, {"from": renderer})
    a = auction.auction(tx.return_value)
    assert a["revealEnd"] - a["commitEnd"] == 60 and a["holderBps"] == 10_000 and a["reserve"] == 0

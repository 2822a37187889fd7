"""LastFrameAuction under random sequences of openings, commits, reveals (right, wrong salt, too
high), time jumps, settlements, withdrawals, claims and proceeds (hypothesis, through brownie's
`state_machine`), with the books checked after every step:

- address(this).balance - totalProceeds - totalClaims == totalDeposits (the contract's invariant);
- totalDeposits == the deposits still owed, from a Python ledger kept from the events alone;
- totalClaims == the holders' claimOf; everything paid out is what the ledger says;
- a reverted action must name an error whose values justify it.
"""

import os
import re

import brownie
from brownie import chain
from brownie.test import strategy
from phoenix_fixtures import *  # noqa: F401,F403  (fixtures)
from phoenix_fixtures import COMMIT_WINDOW, FORFEIT_BPS, IMAGE_CID, METADATA_CID, RESERVE, REVEAL_WINDOW, commitment

MAX_EXAMPLES = 20
STEPS = 25
DERANDOMIZE = True


class AuctionMachine:
    st_who = strategy("uint8", max_value=2)
    st_pick = strategy("uint16")
    st_bid = strategy("uint256", min_value=0, max_value=5 * 10**16)
    st_extra = strategy("uint256", min_value=0, max_value=3 * 10**16)
    st_seconds = strategy("uint32", max_value=COMMIT_WINDOW + REVEAL_WINDOW)
    st_kind = strategy("uint8", max_value=3)

    def __init__(cls, auction, canvas, renderer, holder, bidders, tokens):
        cls.auction, cls.canvas, cls.renderer, cls.holder = auction, canvas, renderer, holder
        cls.bidders, cls.tokens = bidders, tokens

    def setup(self):
        self.next_generation = {t: 0 for t in self.tokens}
        self.auctions = []  # auction ids
        self.bids = {}  # (auction, index) -> dict(bidder, bid, salt, deposit, revealed, withdrawn)
        self.owed = 0
        self.rule_open(0)

    # ----------------------------------------------------------- helpers

    @staticmethod
    def _values(exc, name):
        match = re.fullmatch(rf"{name}: (.*)", exc.revert_msg or "")
        assert match, f"expected {name}, got {exc.revert_msg!r}"
        return [int(x) if x.isdigit() else x for x in match.group(1).split(", ")] if match.group(1) else []

    def _pick(self, items, pick):
        return items[pick % len(items)] if items else None

    # ------------------------------------------------------------- rules

    def rule_open(self, who="st_who"):
        token = self.tokens[who % len(self.tokens)]
        generation = self.next_generation[token]
        tx = self.auction.open(token, generation, generation + 1, METADATA_CID, IMAGE_CID, {"from": self.renderer})
        self.next_generation[token] = generation + 1
        self.auctions.append(tx.return_value)

    def rule_commit(self, who="st_who", pick="st_pick", bid="st_bid", extra="st_extra", kind="st_kind"):
        auction_id = self._pick(self.auctions, pick)
        bidder = self.bidders[who]
        # kind 0: a bid above its deposit (can never be revealed); else the deposit covers it.
        deposit = max(RESERVE, bid + extra) if kind else max(RESERVE, bid // 2)
        salt = os.urandom(32)
        a = self.auction.auction(auction_id)
        if chain.time() >= a["commitEnd"] - 2:
            return  # too close to the window's end to tell which side of it the block lands
        tx = self.auction.commit(auction_id, commitment(bid, salt, bidder), {"from": bidder, "value": deposit})
        self.bids[(auction_id, tx.return_value)] = dict(bidder=bidder, bid=bid, salt=salt, deposit=deposit,
                                                        revealed=False, withdrawn=False)
        self.owed += deposit

    def rule_reveal(self, pick="st_pick", kind="st_kind"):
        key = self._pick(sorted(self.bids), pick)
        if key is None:
            return
        b = self.bids[key]
        a = self.auction.auction(key[0])
        salt = os.urandom(32) if kind == 0 else b["salt"]
        in_window = a["commitEnd"] + 2 <= chain.time() < a["revealEnd"] - 2
        try:
            self.auction.reveal(key[0], key[1], b["bid"], salt, {"from": b["bidder"]})
        except brownie.exceptions.VirtualMachineError as exc:
            name = exc.revert_msg.split(":")[0]
            if name == "RevealNotOpen" or name == "RevealClosed":
                assert not in_window
            elif name == "AlreadyRevealed":
                assert b["revealed"]
            elif name == "CommitmentMismatch":
                assert kind == 0
            elif name == "BidAboveDeposit":
                assert self._values(exc, name) == [b["bid"], b["deposit"]] and b["bid"] > b["deposit"]
            else:
                raise
            return
        assert kind != 0 and b["bid"] <= b["deposit"] and not b["revealed"]
        b["revealed"] = True

    def rule_sleep(self, seconds="st_seconds"):
        chain.sleep(seconds)
        chain.mine()

    def rule_settle(self, pick="st_pick"):
        auction_id = self._pick(self.auctions, pick)
        a = self.auction.auction(auction_id)
        if a["settled"]:
            with brownie.reverts(f"AlreadySettled: {auction_id}"):
                self.auction.settle(auction_id)
            return
        if chain.time() < a["revealEnd"] + 2:
            return
        tx = self.auction.settle(auction_id)
        price = tx.events["AuctionSettled"]["price"]
        if price:
            winner = tx.events["AuctionSettled"]["winner"]
            candidates = [(k, b) for k, b in self.bids.items() if k[0] == auction_id and b["revealed"]
                          and b["bid"] >= RESERVE and b["bid"] > 0]
            best = max(b["bid"] for _, b in candidates)
            first = min(k[1] for k, b in candidates if b["bid"] == best)
            assert price == best and winner == self.bids[(auction_id, first)]["bidder"]
            self.bids[(auction_id, first)]["deposit"] -= price
            self.owed -= price

    def rule_withdraw(self, pick="st_pick"):
        key = self._pick(sorted(self.bids), pick)
        if key is None:
            return
        b = self.bids[key]
        if not self.auction.auction(key[0])["settled"]:
            with brownie.reverts(f"NotSettled: {key[0]}"):
                self.auction.withdraw(key[0], key[1], {"from": b["bidder"]})
            return
        if b["withdrawn"]:
            with brownie.reverts(f"AlreadyWithdrawn: {key[0]}, {key[1]}"):
                self.auction.withdraw(key[0], key[1], {"from": b["bidder"]})
            return
        tx = self.auction.withdraw(key[0], key[1], {"from": b["bidder"]})
        event = tx.events["DepositWithdrawn"]
        assert event["amount"] + event["forfeited"] == b["deposit"]
        assert (event["forfeited"] == 0) == (b["revealed"] or b["deposit"] * FORFEIT_BPS < 10_000)
        b["withdrawn"] = True
        self.owed -= b["deposit"]

    def rule_claim(self):
        if self.auction.claimOf(self.holder):
            self.auction.claim({"from": self.holder})
        if self.auction.totalProceeds():
            self.auction.withdrawProceeds({"from": self.holder})

    # -------------------------------------------------------- invariants

    def invariant(self):
        auction = self.auction
        deposits = auction.totalDeposits()
        assert auction.balance() - auction.totalProceeds() - auction.totalClaims() == deposits
        assert deposits == self.owed
        assert auction.totalClaims() == auction.claimOf(self.holder)


def test_auction_books_balance_after_every_step(state_machine, auction, canvas, renderer, alice, bob, carol, dave, h):
    tokens = [h.mint(canvas, alice) for _ in range(2)]
    state_machine(AuctionMachine, auction, canvas, renderer, alice, [bob, carol, dave], tokens,
                  settings={"max_examples": MAX_EXAMPLES, "stateful_step_count": STEPS, "deadline": None,
                            "derandomize": DERANDOMIZE})

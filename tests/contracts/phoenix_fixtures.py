"""Fixtures of the Phoenix economy tests (ThermalOracle, LastFrame, LastFrameAuction).

Imported by the test modules (`from phoenix_fixtures import *`): the shared conftest stays the
canvas's. The contracts are deployed by scripts/deploy_phoenix.py, with short windows.
"""

import os

import pytest
from brownie import chain
from eth_abi import encode
from eth_utils import keccak

COMMIT_WINDOW = 3_600
REVEAL_WINDOW = 1_800
RESERVE = 10**16
HOLDER_BPS = 6_000
FORFEIT_BPS = 2_500
ORACLE_INTERVAL = 600
METADATA_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
IMAGE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def commitment(bid, salt, bidder):
    """keccak256(abi.encode(bid, salt, bidder)), as the auction computes it."""
    return keccak(encode(["uint256", "bytes32", "address"], [bid, salt, str(bidder)]))


def salt():
    return os.urandom(32)


def _deploy_phoenix():
    from scripts.deploy_phoenix import deploy_phoenix
    return deploy_phoenix


@pytest.fixture(scope="module")
def treasury(accounts):
    return accounts[5]


@pytest.fixture(scope="module")
def dave(accounts):
    return accounts[6]


@pytest.fixture(scope="module")
def phoenix(canvas, admin, renderer, treasury):
    """(oracle, frames, auction) for the module's canvas."""
    return _deploy_phoenix()(canvas, admin, renderer, treasury, oracle_interval=ORACLE_INTERVAL,
                             commit_window=COMMIT_WINDOW, reveal_window=REVEAL_WINDOW, reserve=RESERVE,
                             holder_bps=HOLDER_BPS, forfeit_bps=FORFEIT_BPS)


@pytest.fixture(scope="module")
def oracle(phoenix):
    return phoenix[0]


@pytest.fixture(scope="module")
def frames(phoenix):
    return phoenix[1]


@pytest.fixture(scope="module")
def auction(phoenix):
    return phoenix[2]


@pytest.fixture
def opened(auction, renderer, token):
    """Auction 1: the frame of generation 0 of alice's token 1, ended by Phoenix generation 1."""
    return auction.open(token, 0, 1, METADATA_CID, IMAGE_CID, {"from": renderer}).return_value


def to_reveal():
    """Jump past the bidding window into the reveal window."""
    chain.sleep(COMMIT_WINDOW + 1)
    chain.mine()


def to_settle():
    """Jump past the reveal window."""
    chain.sleep(REVEAL_WINDOW + 1)
    chain.mine()


def place(auction, auction_id, bidder, bid, deposit):
    """Commit `bid` hidden in `deposit`; returns (index, salt)."""
    s = salt()
    tx = auction.commit(auction_id, commitment(bid, s, bidder), {"from": bidder, "value": deposit})
    return tx.return_value, s


def held(auction):
    """The contract's books: balance - proceeds - claims (must equal totalDeposits)."""
    return auction.balance() - auction.totalProceeds() - auction.totalClaims()

"""ThermalOracle: the renderer's forecast of the next Phoenix event, rate-limited on-chain."""

import brownie
import pytest
from brownie.exceptions import VirtualMachineError
from brownie import chain
from phoenix_fixtures import *  # noqa: F401,F403  (fixtures)
from phoenix_fixtures import ORACLE_INTERVAL

DIGEST = b"\x11" * 32


def latest(oracle):
    """(expectedAt, confidence, postedAt, sampleDigest hex) as plain Python values."""
    expected_at, confidence, posted_at, digest = oracle.latest()
    return int(expected_at), int(confidence), int(posted_at), bytes(digest).hex()


def test_post_stores_and_emits_the_forecast(oracle, renderer, h):
    assert latest(oracle) == (0, 0, 0, "00" * 32) and oracle.nextPostAt() == 0
    expected_at = h.block_time() + 900
    tx = oracle.post(expected_at, 7_250, DIGEST, {"from": renderer})
    event = tx.events["ThermalForecast"]
    assert (event["expectedAt"], event["confidence"]) == (expected_at, 7_250)
    assert bytes(event["sampleDigest"]).hex() == "11" * 32
    posted_at = h.block_time(tx)
    assert latest(oracle) == (expected_at, 7_250, posted_at, "11" * 32)
    assert oracle.nextPostAt() == posted_at + ORACLE_INTERVAL


def test_one_post_per_interval(oracle, renderer, h):
    posted_at = h.block_time(oracle.post(0, 0, DIGEST, {"from": renderer}))
    with pytest.raises(VirtualMachineError) as exc:
        oracle.post(0, 100, DIGEST, {"from": renderer})
    name, values = exc.value.revert_msg.split(": ")
    now, next_allowed = map(int, values.split(", "))
    assert name == "TooSoon" and now < next_allowed == posted_at + ORACLE_INTERVAL
    chain.sleep(ORACLE_INTERVAL)
    chain.mine()
    oracle.post(0, 100, DIGEST, {"from": renderer})
    assert latest(oracle)[1] == 100


def test_bad_forecasts_and_strangers_are_refused(oracle, renderer, admin, alice, h):
    with h.reverts_with("ConfidenceTooHigh", 10_001, 10_000):
        oracle.post(0, 10_001, DIGEST, {"from": renderer})
    with pytest.raises(VirtualMachineError) as exc:
        oracle.post(1, 5_000, DIGEST, {"from": renderer})
    assert exc.value.revert_msg.startswith("ForecastInThePast: 1, ")
    with brownie.reverts():  # AccessControlUnauthorizedAccount: only the oracle role posts
        oracle.post(0, 0, DIGEST, {"from": alice})
    with brownie.reverts():
        oracle.setMinInterval(0, {"from": alice})
    oracle.setMinInterval(0, {"from": admin})
    oracle.post(0, 1, DIGEST, {"from": renderer})
    oracle.post(0, 2, DIGEST, {"from": renderer})  # no interval: back to back
    assert latest(oracle)[1] == 2

"""ColourPools: the time-weighted reserve, flash crashes and recoveries, overuse and rebases,
burns that settle pigment — and the audit's attacks on each, replayed.

Times are set exactly with `evm_setNextBlockTimestamp`: rebase periods run from `epochStart`
(the deployment's time) in steps of `rebasePeriod`; the time-weighted reserve `tw` moves toward
the reserve by dt / twapWindow of the way (see ColourPools' NatSpec).
"""

import pytest
from brownie import web3

HUE = 5
ETH = 10**18
DAY = 86_400
HOUR = 3_600


def _state(pools, hue=HUE):
    """poolState()[hue] as a dict."""
    names = ("eth", "pigment", "price", "crashed", "index", "next_rebase", "tw", "spot")
    return dict(zip(names, tuple(pools.poolState()[hue])))


def _buy(pools, token, account, value, hue=HUE):
    return pools.buy(token, hue, 0, 2**64, {"from": account, "value": value})


def _sell(pools, token, account, amount, hue=HUE):
    return pools.sell(token, hue, amount, 0, 2**64, {"from": account})


def _eth_to_reach(h, pigment_target):
    """Wei a first buyer pays to bring a fresh pool's pigment reserve just under `pigment_target`."""
    virtual, initial = h.POOL_PARAMS["virtual_eth"], h.POOL_PARAMS["initial_pigment"]
    eth_in = virtual * initial // pigment_target - virtual + 1
    return eth_in * 10_000 // (10_000 - h.POOL_PARAMS["fee_bps"]) + 10**12


def _at(timestamp):
    """Mine the next block at exactly `timestamp` (Anvil keeps time running from there)."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    web3.provider.make_request("evm_mine", [])


def _boundary(pools, n):
    return pools.epochStart() + n * pools.rebasePeriod()


def assert_crash_state(pools):
    floor = pools.floorReserve()
    for state in pools.poolState():
        assert state[3] == (state[6] < floor)


# ------------------------------------------------------- time-weighted reserve


def test_a_trade_moves_the_time_weighted_reserve_only_as_time_passes(pools, token, alice, h):
    initial = h.POOL_PARAMS["initial_pigment"]
    tx = _buy(pools, token, alice, ETH)
    spot = _state(pools)["pigment"]
    t0 = h.block_time(tx)
    assert _state(pools)["tw"] == initial  # the same second: the new reserve has not held yet
    for dt in (12, 600, HOUR - 1):
        _at(t0 + dt)
        assert _state(pools)["tw"] == initial - (initial - spot) * dt // HOUR
    _at(t0 + HOUR)
    state = _state(pools)
    assert state["tw"] == spot  # a whole window: the average is the reserve
    assert state["price"] == state["spot"] == h.model.price(state["eth"], spot)
    assert_crash_state(pools)


def test_one_block_of_crash_cannot_scar_a_token(pools, canvas, token, alice, bob, carol, h):
    """Audit: renders read the pools at the event's block, so holding a hue crashed across one
    block (0.024 ETH of fees on 4 ETH) and re-colouring a token that holds the hue in it split its
    channels for good. Now the render's crash flag and prices are time-weighted: the victim's
    re-colouring, in the block after the crash, reads the hue as it was."""
    victim = token  # alice's token holds a little of the hue
    _buy(pools, victim, alice, ETH // 100)
    attacker = h.mint(canvas, carol)
    _at(h.block_time() + HOUR)
    before = _state(pools)
    crash = _buy(pools, attacker, carol, 5 * ETH)  # block N: spot reserve under the floor
    crash_spot = _state(pools)["pigment"]
    assert crash_spot < pools.floorReserve()
    recolour = _buy(pools, victim, carol, h.POOL_PARAMS["min_trade"])  # block N + 1: the victim's event
    _sell(pools, attacker, carol, pools.pigmentOf(attacker, HUE))  # block N + 2: the crash undone

    at_event = pools.poolState(block_identifier=recolour.block_number)[HUE]
    assert at_event[3] is False  # not crashed, as the renderer reads it
    dt = h.block_time(recolour) - h.block_time(crash)
    assert at_event[6] >= before["tw"] - (before["tw"] - crash_spot) * dt // HOUR - 1  # dt / an hour of the way
    assert at_event[6] > pools.floorReserve()
    # The victim's own pigment is read at its event: the purchase colours its re-colouring.
    assert pools.effectiveWeights(victim, block_identifier=recolour.block_number)[HUE] == \
        pools.pigmentOf(victim, HUE)


def test_a_sustained_crash_shows_and_recovers(pools, token, alice, bob, h):
    floor = pools.floorReserve()
    assert floor == 2 * 10**23  # 20 % of the initial pigment
    tx = _buy(pools, token, alice, _eth_to_reach(h, floor))
    t0 = h.block_time(tx)
    assert "FlashCrash" not in tx.events and not _state(pools)["crashed"]
    _at(t0 + HOUR - 300)
    assert not _state(pools)["crashed"]  # most of an hour is not enough
    _at(t0 + HOUR)
    assert _state(pools)["crashed"]
    assert_crash_state(pools)
    tx = _buy(pools, token, bob, h.POOL_PARAMS["min_trade"])  # the first update after the crossing
    crash = tx.events["FlashCrash"][0]
    assert (crash["hue"], crash["reserve"], crash["floor"]) == (HUE, _state(pools)["tw"], floor)
    assert [e.name for e in tx.events] == ["Recoloured", "FlashCrash", "Bought"]
    tx = _buy(pools, token, bob, ETH)  # deeper: no second crash event
    assert "FlashCrash" not in tx.events and "Recovered" not in tx.events

    _sell(pools, token, alice, pools.pigmentOf(token, HUE))
    t1 = h.block_time()
    assert _state(pools)["crashed"]  # the average still remembers the crash
    _at(t1 + HOUR)
    assert not _state(pools)["crashed"]
    tx = _buy(pools, token, bob, h.POOL_PARAMS["min_trade"])
    assert (tx.events["Recovered"][0]["hue"], tx.events["Recovered"][0]["reserve"]) == (HUE, _state(pools)["tw"])
    assert_crash_state(pools)


def test_crash_of_one_hue_only(pools, token, alice, h):
    tx = _buy(pools, token, alice, _eth_to_reach(h, pools.floorReserve()))
    _at(h.block_time(tx) + HOUR)
    crashed = [state[3] for state in pools.poolState()]
    assert crashed == [hue == HUE for hue in range(12)]


def test_floor_zero_never_crashes(canvas, admin, token, alice, h):
    pools = h.deploy_pools(canvas, admin, floor_bps=0, overuse_bps=0)
    tx = _buy(pools, token, alice, 1000 * ETH)
    _at(h.block_time(tx) + HOUR)
    assert "FlashCrash" not in _buy(pools, token, alice, ETH).events and not _state(pools)["crashed"]


# -------------------------------------------------------------- overuse


def _overuse(pools, token, account, h, fraction_bps=4_500):
    """Bring HUE's reserve to `fraction_bps` of the initial pigment (overused, above the floor)."""
    target = h.POOL_PARAMS["initial_pigment"] * fraction_bps // 10_000
    tx = _buy(pools, token, account, _eth_to_reach(h, target))
    assert pools.floorReserve() < _state(pools)["pigment"] < pools.overuseReserve()
    return tx


def test_next_rebase_is_announced(pools, token, alice, h):
    assert _state(pools)["next_rebase"] == 0
    tx = _overuse(pools, token, alice, h)
    assert _state(pools)["next_rebase"] == 0  # the average is not overused yet
    _at(h.block_time(tx) + HOUR)
    assert _state(pools)["next_rebase"] == _boundary(pools, 1)
    assert _state(pools)["index"] == h.INDEX_ONE


def test_rebase_needs_an_overused_hue(pools, token, alice, h):
    initial = h.POOL_PARAMS["initial_pigment"]
    with h.reverts_with("NotOverused", HUE, initial, pools.overuseReserve()):
        pools.rebase(HUE, {"from": alice})
    tx = _buy(pools, token, alice, ETH // 2)  # a third of the pigment: not overused
    _at(h.block_time(tx) + HOUR)
    with h.reverts_with("NotOverused", HUE, _state(pools)["pigment"], pools.overuseReserve()):
        pools.rebase(HUE, {"from": alice})


@pytest.mark.parametrize("hue", [12, 2**256 - 1])
def test_rebase_unknown_hue(pools, alice, h, hue):
    with h.reverts_with("UnknownHue", hue, 12):
        pools.rebase(hue, {"from": alice})


def test_rebase_not_due(pools, token, alice, h):
    tx = _overuse(pools, token, alice, h)
    _at(h.block_time(tx) + HOUR)
    with h.reverts_with("RebaseNotDue", HUE, _boundary(pools, 1)):
        pools.rebase(HUE, {"from": alice})


def test_a_step_at_the_boundary_follows_the_model(pools, canvas, token, alice, bob, h):
    other = h.mint(canvas, bob)
    _buy(pools, other, bob, ETH // 4)
    _overuse(pools, token, alice, h)
    weights = (pools.pigmentOf(token, HUE), pools.pigmentOf(other, HUE))
    stored = _state(pools)
    fees = pools.fees()
    _at(_boundary(pools, 1) + 100)
    tx = pools.rebase(HUE, {"from": bob})  # anyone may call it
    eth, reserve, index, freed = h.model.step(stored["eth"], stored["pigment"], h.INDEX_ONE)
    assert index == 900_000_000 == tx.return_value
    assert (tx.events["Rebased"][0]["hue"], tx.events["Rebased"][0]["index"]) == (HUE, index)
    state = _state(pools)
    assert (state["eth"], state["pigment"], state["index"]) == (eth, reserve, index)
    assert pools.fees() == fees + freed and freed > 0  # the ETH behind the returned pigment
    assert h.model.k(eth, reserve) >= h.model.k(stored["eth"], stored["pigment"])  # k never decreases
    assert state["spot"] < stored["spot"]  # the hue got cheaper
    for token_id, weight in zip((token, other), weights):
        now = pools.pigmentOf(token_id, HUE)
        assert weight * 9 // 10 - 1 <= now <= weight * 9 // 10
    assert reserve + sum(weights) * 9 // 10 <= h.POOL_PARAMS["initial_pigment"]  # pigment conserved
    assert pools.balance() == pools.accountedEth()


def test_rebase_after_missed_periods_takes_one_step(pools, token, alice, bob, h):
    """Audit: a hue at 45 % of its pigment left without a `rebase` call for 10 days lost holders 65 %
    at once (0.9 ** 10), where daily calls lose 10 % and the first step already ends the overuse.
    Now every missed boundary is replayed in turn, seeing the pigment the step before returned."""
    _overuse(pools, token, alice, h, 4_500)
    held = pools.pigmentOf(token, HUE)
    _at(_boundary(pools, 10) + 1)
    tx = pools.rebase(HUE, {"from": bob})
    assert tx.return_value == 900_000_000  # one step: 10 %
    assert pools.pigmentOf(token, HUE) >= held * 9 // 10 - 1
    assert _state(pools)["pigment"] >= pools.overuseReserve()
    _at(_boundary(pools, 20) + 1)
    with h.reverts_with("NotOverused", HUE, _state(pools)["pigment"], pools.overuseReserve()):
        pools.rebase(HUE, {"from": bob})


def test_the_next_trade_applies_a_due_step(pools, token, alice, bob, h):
    _overuse(pools, token, alice, h)
    stored = _state(pools)
    _at(_boundary(pools, 1) + 5)
    eth, reserve, index, _ = h.model.step(stored["eth"], stored["pigment"], h.INDEX_ONE)
    quote = pools.quoteBuy(HUE, ETH // 100)
    assert quote == h.model.buy(eth, reserve, ETH // 100)[2]  # views see the due step
    assert _state(pools)["index"] == index
    tx = _buy(pools, token, bob, ETH // 100)
    assert tx.return_value == quote
    assert [e.name for e in tx.events] == ["Recoloured", "Rebased", "Bought"]


def test_a_sell_and_buy_back_around_the_boundary_cannot_skip_the_step(pools, token, alice, h):
    """Audit: the overuse clock restarted whenever the hue stopped being overused, so a holder who
    sold just over the threshold and bought back before the period ended (fees ~0.0013 ETH)
    skipped the 10 % cut (`RebaseNotDue`). Now overuse is the time-weighted reserve at the
    boundary: a minute above the threshold barely moves it."""
    _overuse(pools, token, alice, h, 4_500)
    boundary = _boundary(pools, 1)
    _at(boundary - 120)
    held = pools.pigmentOf(token, HUE)
    sold = held * 15 // 100  # back over 50 %
    _sell(pools, token, alice, sold)
    assert _state(pools)["pigment"] >= pools.overuseReserve()
    _at(boundary - 60)
    _buy(pools, token, alice, pools.quoteSell(HUE, sold) + 10**15)  # and back under it
    assert _state(pools)["pigment"] < pools.overuseReserve()
    _at(boundary + 60)
    tx = pools.rebase(HUE, {"from": alice})
    assert tx.return_value == 900_000_000


def test_no_eth_is_stranded_after_rebases(pools, canvas, token, alice, bob, admin, h):
    """Audit: pigment taken back by rebases returned to the reserve while its ETH stayed; once the
    holders sold everything ~0.8 ETH sat in the pool with no claimant. Now a step moves that ETH to
    the fee pot, and a pool whose pigment is all back holds only rounding dust."""
    other = h.mint(canvas, bob)
    _buy(pools, other, bob, ETH // 2)
    _overuse(pools, token, alice, h, 3_000)
    _at(_boundary(pools, 3) + 1)
    pools.rebase(HUE, {"from": alice})
    assert _state(pools)["index"] < h.INDEX_ONE
    _sell(pools, token, alice, pools.pigmentOf(token, HUE))
    _sell(pools, other, bob, pools.pigmentOf(other, HUE))
    state = _state(pools)
    assert h.POOL_PARAMS["initial_pigment"] - 1000 <= state["pigment"] <= h.POOL_PARAMS["initial_pigment"]
    assert state["eth"] < 10**6  # wei of rounding, not ~0.8 ETH
    fees = pools.fees()
    pools.withdrawFees(admin, {"from": admin})
    assert pools.balance() == sum(s[0] for s in pools.poolState()) + pools.totalCredits()
    assert fees > ETH // 10  # the ETH behind the pigment the rebases took back


def test_index_never_falls_below_its_minimum(canvas, admin, token, alice, h):
    pools = h.deploy_pools(canvas, admin, rebase_bps=9_000, overuse_bps=10_000, floor_bps=0)
    _buy(pools, token, alice, ETH)
    _at(_boundary(pools, 5) + 1)
    tx = pools.rebase(HUE, {"from": alice})  # 1e9 -> 1e8 -> 1e7 -> 1e6, then the minimum holds
    assert tx.events["Rebased"][0]["index"] == h.MIN_INDEX
    _at(_boundary(pools, 6) + 1)
    with h.reverts_with("RebaseNotDue", HUE, _boundary(pools, 7)):
        pools.rebase(HUE, {"from": alice})  # overused, but the index cannot fall further
    out = _buy(pools, token, alice, ETH // 10).return_value
    held = pools.pigmentOf(token, HUE)
    assert held >= out
    _sell(pools, token, alice, held)
    assert pools.pigmentOf(token, HUE) == 0
    assert pools.balance() == pools.accountedEth()


def test_steps_compound_while_the_hue_stays_overused(canvas, admin, token, alice, h):
    params = dict(rebase_bps=10, overuse_bps=10_000, floor_bps=0, rebase_period=3_600, twap_window=600)
    pools = h.deploy_pools(canvas, admin, **params)
    model = h.PoolModel(**{**h.POOL_PARAMS, **params})
    _buy(pools, token, alice, ETH)
    stored = _state(pools)
    eth, reserve, index = stored["eth"], stored["pigment"], h.INDEX_ONE
    for _ in range(100):
        eth, reserve, index, _ = model.step(eth, reserve, index)
    _at(_boundary(pools, 100) + 59)
    tx = pools.rebase(HUE, {"from": alice})
    assert tx.return_value == index and _state(pools)["pigment"] == reserve and _state(pools)["eth"] == eth
    assert abs(index - h.INDEX_ONE * 0.999 ** 100) < 1000


def test_at_most_max_steps_per_update(canvas, admin, token, alice, h):
    params = dict(rebase_bps=1, overuse_bps=10_000, floor_bps=0, rebase_period=60, twap_window=60)
    pools = h.deploy_pools(canvas, admin, **params)
    _buy(pools, token, alice, ETH)
    _at(_boundary(pools, 1000) + 1)
    tx = pools.rebase(HUE, {"from": alice})
    model = h.PoolModel(**{**h.POOL_PARAMS, **params})
    stored_index = h.INDEX_ONE
    for _ in range(pools.MAX_REBASE_STEPS()):
        stored_index = model.step(0, 10**23, stored_index)[2]
    assert tx.return_value == stored_index  # 128 steps; the other boundaries are forgiven
    assert tx.gas_used < 1_000_000


# ------------------------------------------------------------------ burn


def test_burn_settles_pigment(pools, canvas, token, alice, bob, carol, h):
    """Audit: burning a token that held pigment stranded the ETH behind it. Now the burn sells it
    back at market in the same transaction and pays the token's last owner."""
    _buy(pools, token, bob, ETH // 10, hue=2)
    _buy(pools, token, bob, ETH // 5, hue=HUE)
    canvas.transferFrom(alice, carol, token, {"from": alice})
    expected = pools.quoteSell(2, pools.pigmentOf(token, 2))
    before = carol.balance()
    tx = canvas.burn(token, {"from": carol})
    settled = tx.events["Settled"][0]
    assert (settled["tokenId"], settled["owner"]) == (token, carol)
    assert settled["ethOut"] > expected  # both hues
    assert carol.balance() == before + settled["ethOut"]
    assert list(pools.effectiveWeights(token)) == [0] * 12
    assert "Recoloured" not in tx.events and "Mutated" not in tx.events
    for hue in (2, HUE):
        assert _state(pools, hue)["pigment"] == h.POOL_PARAMS["initial_pigment"]
        assert _state(pools, hue)["eth"] < 10**6
    assert pools.balance() == pools.accountedEth()


def test_settle_is_the_canvas_only(pools, token, alice, h):
    with h.reverts_with("NotCanvas", alice):
        pools.settle(token, alice, {"from": alice})


def test_burn_of_a_token_without_pigment(pools, canvas, token, alice):
    tx = canvas.burn(token, {"from": alice})
    assert tx.events["Settled"][0]["ethOut"] == 0

"""ColourPools: flash crashes and recoveries, overuse and rebases."""

import pytest
from brownie import chain

HUE = 5
ETH = 10**18
DAY = 86_400


def _pool(pools, hue=HUE):
    eth, pigment, price, crashed, index, next_rebase = pools.poolState()[hue]
    return eth, pigment, price, crashed, index, next_rebase


def _buy(pools, token, account, value, hue=HUE):
    return pools.buy(token, hue, 0, 2**64, {"from": account, "value": value})


def _sell(pools, token, account, amount, hue=HUE):
    return pools.sell(token, hue, amount, 0, 2**64, {"from": account})


def _eth_to_reach(h, pigment_target):
    """Wei a first buyer pays to bring a fresh pool's pigment reserve just under `pigment_target`."""
    virtual, initial = h.POOL_PARAMS["virtual_eth"], h.POOL_PARAMS["initial_pigment"]
    eth_in = virtual * initial // pigment_target - virtual + 1
    return eth_in * 10_000 // (10_000 - h.POOL_PARAMS["fee_bps"]) + 10**12


def assert_crash_state(pools):
    floor = pools.floorReserve()
    for state in pools.poolState():
        assert state[3] == (state[1] < floor)


# ---------------------------------------------------------------- crash


def test_flash_crash_and_recovery(pools, token, alice, bob, h):
    floor = pools.floorReserve()
    assert floor == 2 * 10**23  # 20 % of the initial pigment
    tx = _buy(pools, token, alice, _eth_to_reach(h, floor) // 2)  # half-way: overused, no crash
    assert "FlashCrash" not in tx.events
    assert not _pool(pools)[3]

    tx = _buy(pools, token, bob, _eth_to_reach(h, floor))
    reserve = _pool(pools)[1]
    assert reserve < floor and _pool(pools)[3]
    crash = tx.events["FlashCrash"][0]
    assert (crash["hue"], crash["reserve"], crash["floor"]) == (HUE, reserve, floor)
    assert [e.name for e in tx.events] == ["Recoloured", "FlashCrash", "Bought"]
    assert_crash_state(pools)

    tx = _buy(pools, token, bob, ETH)  # deeper: no second crash event
    assert "FlashCrash" not in tx.events and "Recovered" not in tx.events

    held = pools.pigmentOf(token, HUE)
    tx = _sell(pools, token, alice, held // 20)  # still under the floor
    assert "Recovered" not in tx.events and _pool(pools)[3]
    tx = _sell(pools, token, alice, held // 2)
    reserve = _pool(pools)[1]
    assert reserve >= floor and not _pool(pools)[3]
    recovered = tx.events["Recovered"][0]
    assert (recovered["hue"], recovered["reserve"]) == (HUE, reserve)
    assert_crash_state(pools)

    # And again: a crash can happen any number of times.
    tx = _buy(pools, token, bob, 10 * ETH)
    assert "FlashCrash" in tx.events


def test_crash_of_one_hue_only(pools, token, alice, h):
    _buy(pools, token, alice, _eth_to_reach(h, pools.floorReserve()))
    crashed = [state[3] for state in pools.poolState()]
    assert crashed == [hue == HUE for hue in range(12)]


def test_floor_zero_never_crashes(canvas, admin, token, alice, h):
    pools = h.deploy_pools(canvas, admin, floor_bps=0, overuse_bps=0)
    tx = _buy(pools, token, alice, 1000 * ETH)
    assert "FlashCrash" not in tx.events and not _pool(pools)[3]


# -------------------------------------------------------------- overuse


def _overuse(pools, token, account, h):
    """Make HUE overused (reserve just under the threshold, above the floor); returns the buy tx."""
    tx = _buy(pools, token, account, _eth_to_reach(h, pools.overuseReserve()))
    assert pools.floorReserve() < _pool(pools)[1] < pools.overuseReserve()
    return tx


def test_next_rebase_is_announced(pools, token, alice, h):
    assert _pool(pools)[5] == 0
    tx = _overuse(pools, token, alice, h)
    assert _pool(pools)[5] == h.block_time(tx) + DAY
    assert _pool(pools)[4] == h.INDEX_ONE


def test_rebase_needs_an_overused_hue(pools, token, alice, h):
    initial = h.POOL_PARAMS["initial_pigment"]
    with h.reverts_with("NotOverused", HUE, initial, pools.overuseReserve()):
        pools.rebase(HUE, {"from": alice})
    _buy(pools, token, alice, ETH // 2)  # a third of the pigment: not overused
    with h.reverts_with("NotOverused", HUE, _pool(pools)[1], pools.overuseReserve()):
        pools.rebase(HUE, {"from": alice})


@pytest.mark.parametrize("hue", [12, 2**256 - 1])
def test_rebase_unknown_hue(pools, alice, h, hue):
    with h.reverts_with("UnknownHue", hue, 12):
        pools.rebase(hue, {"from": alice})


def test_rebase_not_due(pools, token, alice, h):
    tx = _overuse(pools, token, alice, h)
    due = h.block_time(tx) + DAY
    with h.reverts_with("RebaseNotDue", HUE, due):
        pools.rebase(HUE, {"from": alice})
    chain.sleep(due - h.block_time() - 30)
    with h.reverts_with("RebaseNotDue", HUE, due):
        pools.rebase(HUE, {"from": alice})


def test_the_clock_starts_when_overuse_starts(pools, token, alice, h):
    chain.sleep(10 * DAY)  # time without overuse does not count
    _buy(pools, token, alice, ETH // 2)
    chain.sleep(10 * DAY)
    tx = _buy(pools, token, alice, ETH // 2 + ETH // 100)  # now overused: the clock starts here
    assert _pool(pools)[1] < pools.overuseReserve()
    assert "Rebased" not in tx.events
    with h.reverts_with("RebaseNotDue", HUE, h.block_time(tx) + DAY):
        pools.rebase(HUE, {"from": alice})


def test_rebase_lowers_every_holders_weight(pools, canvas, token, alice, bob, h):
    other = h.mint(canvas, bob)
    _buy(pools, other, bob, ETH // 4)
    tx = _overuse(pools, token, alice, h)
    start = h.block_time(tx)
    weights = (pools.pigmentOf(token, HUE), pools.pigmentOf(other, HUE))
    eth, reserve, price, _, index, _ = _pool(pools)
    k = h.model.k(eth, reserve)

    chain.sleep(2 * DAY + 100)
    tx = pools.rebase(HUE, {"from": bob})  # anyone may call it
    new_reserve, new_index = h.model.rebase(reserve, index, 2)
    assert new_index == 810_000_000  # 0.9 ** 2
    assert tx.return_value == new_index
    assert (tx.events["Rebased"][0]["hue"], tx.events["Rebased"][0]["index"]) == (HUE, new_index)
    eth2, reserve2, price2, _, index2, next_rebase = _pool(pools)
    assert (eth2, reserve2, index2) == (eth, new_reserve, new_index)
    # What the holders lose goes back to the pool: the hue gets cheaper, k grows.
    assert price2 < price and h.model.k(eth2, reserve2) > k
    assert reserve2 - reserve == (h.POOL_PARAMS["initial_pigment"] - reserve) * 19 // 100
    for token_id, weight in zip((token, other), weights):
        now = pools.pigmentOf(token_id, HUE)
        assert weight * 81 // 100 - 1 <= now <= weight * 81 // 100
        assert pools.effectiveWeights(token_id)[HUE] == now
    # Pigment is conserved: the reserve and the holders never have more than the initial pigment.
    assert reserve2 + sum(pools.pigmentOf(t, HUE) for t in (token, other)) <= h.POOL_PARAMS["initial_pigment"]
    # Back under the threshold? Then no more rebases; else the next step is a day after the last.
    if reserve2 >= pools.overuseReserve():
        assert next_rebase == 0
    else:
        assert next_rebase == start + 3 * DAY


def test_holders_sell_their_effective_pigment(pools, token, alice, h):
    _overuse(pools, token, alice, h)
    chain.sleep(DAY + 1)
    pools.rebase(HUE, {"from": alice})
    held = pools.pigmentOf(token, HUE)
    with h.reverts_with("InsufficientPigment", token, HUE, held, held + 1):
        _sell(pools, token, alice, held + 1)
    _sell(pools, token, alice, held)
    assert pools.pigmentOf(token, HUE) == 0
    eth, reserve = _pool(pools)[:2]
    assert reserve <= h.POOL_PARAMS["initial_pigment"]
    assert pools.balance() == pools.accountedEth()


def test_the_next_trade_applies_a_due_rebase(pools, token, alice, bob, h):
    _overuse(pools, token, alice, h)
    eth, reserve, _, _, index, _ = _pool(pools)
    chain.sleep(3 * DAY + 5)
    chain.mine()  # views run at the latest block's time
    new_reserve, new_index = h.model.rebase(reserve, index, 3)
    quote = pools.quoteBuy(HUE, ETH // 100)
    assert quote == h.model.buy(eth, new_reserve, ETH // 100)[2]  # the quote sees the due rebase
    assert _pool(pools)[4] == h.INDEX_ONE  # the stored state does not, yet
    tx = _buy(pools, token, bob, ETH // 100)
    assert tx.return_value == quote
    assert tx.events["Rebased"][0]["index"] == new_index == 729_000_000
    assert [e.name for e in tx.events] == ["Recoloured", "Rebased", "Bought"]
    assert _pool(pools)[4] == new_index
    # Bought after the rebase: the new pigment counts in full.
    assert pools.pigmentOf(token, HUE) >= quote


def test_rebase_stops_once_the_hue_is_no_longer_overused(pools, token, alice, h):
    _overuse(pools, token, alice, h)
    chain.sleep(5 * DAY + 1)
    pools.rebase(HUE, {"from": alice})
    reserve = _pool(pools)[1]
    assert reserve >= pools.overuseReserve()  # five steps of 10 % put it back over 50 %
    assert _pool(pools)[5] == 0
    chain.sleep(30 * DAY)
    with h.reverts_with("NotOverused", HUE, reserve, pools.overuseReserve()):
        pools.rebase(HUE, {"from": alice})


def test_rebase_can_end_a_crash(pools, token, alice, h):
    _buy(pools, token, alice, _eth_to_reach(h, pools.floorReserve()))
    assert _pool(pools)[3]
    chain.sleep(3 * DAY + 1)
    tx = pools.rebase(HUE, {"from": alice})
    reserve = _pool(pools)[1]
    assert reserve >= pools.floorReserve()
    assert (tx.events["Recovered"][0]["hue"], tx.events["Recovered"][0]["reserve"]) == (HUE, reserve)
    assert [e.name for e in tx.events] == ["Rebased", "Recovered"]


def test_index_never_falls_below_its_minimum(canvas, admin, token, alice, h):
    pools = h.deploy_pools(canvas, admin, rebase_bps=9_999, overuse_bps=10_000, floor_bps=0)
    _buy(pools, token, alice, ETH)
    chain.sleep(DAY + 1)
    tx = pools.rebase(HUE, {"from": alice})
    assert tx.events["Rebased"][0]["index"] == h.MIN_INDEX  # 1e9 * 0.0001 = 1e5, floored at 1e6
    chain.sleep(DAY + 1)
    tx = pools.rebase(HUE, {"from": alice})  # due, but the index cannot fall further
    assert "Rebased" not in tx.events and tx.return_value == h.MIN_INDEX
    # Buying and selling still work at the minimum index.
    out = _buy(pools, token, alice, ETH // 10).return_value
    held = pools.pigmentOf(token, HUE)
    assert held >= out
    _sell(pools, token, alice, held)
    assert pools.pigmentOf(token, HUE) == 0
    assert pools.balance() == pools.accountedEth()


def test_many_periods_compound(canvas, admin, token, alice, h):
    params = dict(rebase_bps=10, overuse_bps=10_000, floor_bps=0, rebase_period=60)
    pools = h.deploy_pools(canvas, admin, **params)
    model = h.PoolModel(**{**h.POOL_PARAMS, **params})
    _buy(pools, token, alice, ETH)
    eth, reserve, _, _, index, _ = _pool(pools)
    chain.sleep(1000 * 60 + 59)
    tx = pools.rebase(HUE, {"from": alice})
    expected = model.rebase(reserve, index, 1000)
    assert (_pool(pools)[1], tx.return_value) == expected
    assert abs(tx.return_value - h.INDEX_ONE * 0.999 ** 1000) < 1000

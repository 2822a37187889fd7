"""ColourPools: deployment, buy, sell, fees, credits, reentrancy, views (every path, failing ones included).

Crashes and rebases are in test_pools_crash_rebase.py; random sequences in test_pools_stateful.py.
"""

import brownie
import pytest
from eth_utils import keccak

HUE = 3
ETH = 10**18
PAYMENT = 10**16


def _pool(pools, hue):
    """(eth reserve, pigment reserve, spot price, crashed, index, next rebase): what a trade moves
    at once (the time-weighted price and crash flag are test_pools_crash_rebase's)."""
    state = tuple(pools.poolState()[hue])
    return state[0], state[1], state[7], state[3], state[4], state[5]


def assert_accounting(pools):
    """Invariant 2: the balance is exactly reserves + fees + credits."""
    reserves = sum(state[0] for state in pools.poolState())
    assert pools.balance() == reserves + pools.fees() + pools.totalCredits() == pools.accountedEth()


def _buy(pools, token, account, value=PAYMENT, hue=HUE, min_out=0, deadline=None):
    return pools.buy(token, hue, min_out, deadline or 2**64, {"from": account, "value": value})


def _expired(deadline):
    return brownie.reverts(revert_pattern=rf"Expired: {deadline}, \d+")


# ------------------------------------------------------------ deployment


def test_parameters(pools, canvas, admin, h):
    p = h.POOL_PARAMS
    assert pools.canvas() == canvas
    assert pools.owner() == admin
    assert pools.hueCount() == p["hue_count"]
    assert pools.virtualEth() == p["virtual_eth"]
    assert pools.initialPigment() == p["initial_pigment"]
    assert pools.feeBps() == p["fee_bps"]
    assert pools.floorReserve() == p["initial_pigment"] * p["floor_bps"] // 10_000
    assert pools.overuseReserve() == p["initial_pigment"] * p["overuse_bps"] // 10_000
    assert pools.rebaseBps() == p["rebase_bps"]
    assert pools.rebasePeriod() == p["rebase_period"]
    assert (pools.twapWindow(), pools.minTrade()) == (p["twap_window"], p["min_trade"])
    assert pools.epochStart() == brownie.web3.eth.get_block(pools.tx.block_number)["timestamp"]
    assert (pools.INDEX_ONE(), pools.MIN_INDEX(), pools.MAX_FEE_BPS()) == (h.INDEX_ONE, h.MIN_INDEX, 1_000)
    assert canvas.hasRole(canvas.POOLS_ROLE(), pools)


def test_initial_state(pools, h):
    """Every pool starts at the defined price virtualEth / initialPigment, nothing crashed or rebased."""
    states = pools.poolState()
    assert len(states) == 12
    price = h.POOL_PARAMS["virtual_eth"] * h.WAD // h.POOL_PARAMS["initial_pigment"]
    assert price == 10**12  # 1e-6 ether per pigment
    for state in states:
        initial = h.POOL_PARAMS["initial_pigment"]
        assert tuple(state) == (0, initial, price, False, h.INDEX_ONE, 0, initial, price)
    assert (pools.fees(), pools.totalCredits(), pools.balance(), pools.accountedEth()) == (0, 0, 0, 0)


@pytest.mark.parametrize("hue_count", [1, 6, 360])
def test_hue_count_is_fixed_at_deploy(canvas, admin, h, hue_count):
    pools = h.deploy_pools(canvas, admin, hue_count=hue_count)
    assert pools.hueCount() == hue_count
    assert len(pools.poolState()) == hue_count
    with h.reverts_with("UnknownHue", hue_count, hue_count):
        pools.pigmentOf(1, hue_count)


@pytest.mark.parametrize("name, value", [
    ("hueCount", 0), ("hueCount", 7), ("hueCount", 720),
    ("virtualEth", 0), ("virtualEth", 2**96),
    ("initialPigment", 0), ("initialPigment", 2**96),
    ("feeBps", 1_001),
    ("overuseBps", 10_001),
    ("floorBps", 5_001),  # above overuseBps (5 000)
    ("rebaseBps", 10_000),
    ("rebasePeriod", 0), ("rebasePeriod", 2**32),
    ("twapWindow", 0), ("twapWindow", 86_401),  # longer than the rebase period
    ("minTrade", 0),
])
def test_constructor_rejects_bad_parameters(ColourPools, canvas, admin, h, name, value):
    keys = {"hueCount": "hue_count", "virtualEth": "virtual_eth", "initialPigment": "initial_pigment",
            "feeBps": "fee_bps", "floorBps": "floor_bps", "overuseBps": "overuse_bps",
            "rebaseBps": "rebase_bps", "rebasePeriod": "rebase_period", "twapWindow": "twap_window",
            "minTrade": "min_trade"}
    params = {**h.POOL_PARAMS, keys[name]: value}
    with brownie.reverts(f"BadParameter: {name}, {value}"):
        ColourPools.deploy(canvas, admin, *params.values(), {"from": admin})


def test_constructor_rejects_zero_addresses(ColourPools, canvas, admin, h):
    with h.reverts_with("ZeroAddress"):
        ColourPools.deploy(h.ZERO_ADDRESS, admin, *h.POOL_PARAMS.values(), {"from": admin})
    with h.reverts_with("OwnableInvalidOwner", h.ZERO_ADDRESS):
        ColourPools.deploy(canvas, h.ZERO_ADDRESS, *h.POOL_PARAMS.values(), {"from": admin})


def test_extreme_but_valid_parameters(ColourPools, canvas, admin, h):
    pools = ColourPools.deploy(canvas, admin, 360, 2**96 - 1, 2**96 - 1, 1_000, 0, 0, 0, 1, 1, 1, {"from": admin})
    assert pools.floorReserve() == 0 and pools.overuseReserve() == 0


# ------------------------------------------------------------------- buy


def test_buy_credits_the_token(canvas, pools, token, alice, bob, h):
    value = 3 * PAYMENT
    fee, eth_in, out = h.model.buy(0, h.POOL_PARAMS["initial_pigment"], value)
    assert pools.quoteBuy(HUE, value) == out
    tx = _buy(pools, token, bob, value)  # anyone may buy for any token
    assert tx.return_value == out
    assert pools.pigmentOf(token, HUE) == out
    weights = pools.effectiveWeights(token)
    assert list(weights) == [out if hue == HUE else 0 for hue in range(12)]
    eth, pigment, price, crashed, index, next_rebase = _pool(pools, HUE)
    assert (eth, pigment) == (eth_in, h.POOL_PARAMS["initial_pigment"] - out)
    assert price == h.model.price(eth, pigment)
    assert (crashed, index, next_rebase) == (False, h.INDEX_ONE, 0)
    assert pools.fees() == fee > 0
    assert pools.balance() == value
    assert_accounting(pools)

    bought = tx.events["Bought"][0]
    assert (bought["tokenId"], bought["hue"], bought["buyer"], bought["ethIn"], bought["pigmentOut"]) == \
        (token, HUE, bob, value, out)
    recoloured = tx.events["Recoloured"][0]
    assert (recoloured["tokenId"], recoloured["generation"]) == (token, 1)
    assert canvas.generationOf(token) == 1
    assert [e.name for e in tx.events] == ["Recoloured", "Bought"]


def test_buy_makes_the_hue_dearer_and_leaves_others(pools, token, alice, h):
    outs, prices = [], [_pool(pools, HUE)[2]]
    for _ in range(4):
        outs.append(_buy(pools, token, alice, ETH // 10).return_value)
        prices.append(_pool(pools, HUE)[2])
    assert outs == sorted(outs, reverse=True) and len(set(outs)) == 4
    assert prices == sorted(prices) and len(set(prices)) == 5
    for hue in range(12):
        if hue != HUE:
            assert _pool(pools, hue)[:3] == (0, h.POOL_PARAMS["initial_pigment"], 10**12)
    assert pools.pigmentOf(token, HUE) == sum(outs)


def test_buy_follows_the_formula_exactly(pools, token, alice, h):
    eth, pigment, fees = 0, h.POOL_PARAMS["initial_pigment"], 0
    for value in (10**15, 10**15 + 333, 10**15 + 334, 10**16 + 7, ETH // 3, 2 * ETH + 1):
        fee, eth_in, out = h.model.buy(eth, pigment, value)
        assert _buy(pools, token, alice, value).return_value == out
        k_before = h.model.k(eth, pigment)
        eth, pigment, fees = eth + eth_in, pigment - out, fees + fee
        assert _pool(pools, HUE)[:2] == (eth, pigment)
        assert pools.fees() == fees
        assert h.model.k(eth, pigment) >= k_before
    assert fees > 0
    assert_accounting(pools)


def test_buy_for_each_token_and_hue_is_separate(pools, canvas, token, alice, bob, h):
    other = h.mint(canvas, bob)
    out0 = _buy(pools, token, alice, hue=0).return_value
    out1 = _buy(pools, token, alice, hue=1).return_value  # same share slot as hue 0
    out_other = _buy(pools, other, alice, hue=1).return_value
    assert list(pools.effectiveWeights(token))[:3] == [out0, out1, 0]
    assert list(pools.effectiveWeights(other))[:3] == [0, out_other, 0]
    pools.sell(token, 1, out1, 0, h.FAR_DEADLINE, {"from": alice})
    assert list(pools.effectiveWeights(token))[:3] == [out0, 0, 0]
    assert list(pools.effectiveWeights(other))[:3] == [0, out_other, 0]


def test_buy_slippage(pools, token, alice, h):
    out = pools.quoteBuy(HUE, PAYMENT)
    with h.reverts_with("InsufficientOutput", out, out + 1):
        _buy(pools, token, alice, min_out=out + 1)
    assert _buy(pools, token, alice, min_out=out).return_value == out


def test_buy_slippage_after_a_front_run(pools, token, alice, bob, h):
    quoted = pools.quoteBuy(HUE, PAYMENT)
    _buy(pools, token, bob, ETH // 10)  # someone else moves the price first
    now = pools.quoteBuy(HUE, PAYMENT)
    with h.reverts_with("InsufficientOutput", now, quoted):
        _buy(pools, token, alice, min_out=quoted)


def test_buy_expired_deadline(pools, token, alice, h):
    deadline = h.block_time() - 1
    with _expired(deadline):
        _buy(pools, token, alice, deadline=deadline)
    with _expired(1):
        _buy(pools, token, alice, deadline=1)
    assert pools.balance() == 0


def test_buy_zero_value(pools, token, alice, h):
    with h.reverts_with("ZeroAmount"):
        _buy(pools, token, alice, value=0)


def test_one_wei_buy_reverts(pools, token, alice, h):
    """Audit: a 1-wei buy re-coloured any token (~24k gas for the attacker, a render for the renderer).
    A buy now pays at least `minTrade`, what a paid mutation costs."""
    minimum = h.POOL_PARAMS["min_trade"]
    for value in (1, minimum - 1):
        with h.reverts_with("BelowMinimumTrade", value, minimum):
            _buy(pools, token, alice, value=value)
    assert pools.balance() == 0
    out = h.model.buy(0, h.POOL_PARAMS["initial_pigment"], minimum)[2]
    assert _buy(pools, token, alice, value=minimum).return_value == out


@pytest.mark.parametrize("hue", [12, 13, 2**256 - 1])
def test_buy_unknown_hue(pools, token, alice, h, hue):
    with h.reverts_with("UnknownHue", hue, 12):
        _buy(pools, token, alice, hue=hue)


@pytest.mark.parametrize("token_id", [0, 2, 999])
def test_buy_unknown_token(pools, token, alice, h, token_id):
    with h.reverts_with("ERC721NonexistentToken", token_id):
        _buy(pools, token_id, alice)


def test_buy_burnt_token(pools, canvas, token, alice, h):
    canvas.burn(token, {"from": alice})
    with h.reverts_with("ERC721NonexistentToken", token):
        _buy(pools, token, alice)


def test_buy_needs_the_pools_role(pools, canvas, token, admin, alice, h):
    role = canvas.POOLS_ROLE()
    canvas.revokeRole(role, pools, {"from": admin})
    with h.reverts_with("AccessControlUnauthorizedAccount", pools, role):
        _buy(pools, token, alice)
    canvas.grantRole(role, pools, {"from": admin})
    _buy(pools, token, alice)


def test_wrong_payment(pools, token, alice, h):
    """ETH only enters through buy: not with a sale, a rebase, a withdrawal, nor as a plain transfer."""
    out = _buy(pools, token, alice).return_value
    balance = pools.balance()
    for fn, args in [(pools.sell, (token, HUE, out, 0, h.FAR_DEADLINE)), (pools.rebase, (HUE,)),
                     (pools.withdrawCredit, (alice,)), (pools.skim, ())]:
        with brownie.reverts():
            alice.transfer(pools, 1, data=fn.encode_input(*args))
    with brownie.reverts():
        alice.transfer(pools, ETH)
    with brownie.reverts():
        alice.transfer(pools, ETH, data="0x12345678")
    assert pools.balance() == balance
    assert_accounting(pools)


# ------------------------------------------------------------------ sell


@pytest.fixture
def held(pools, token, bob):
    """`token` (alice's) holds pigment of HUE, bought by bob for 0.1 ether."""
    return _buy(pools, token, bob, ETH // 10).return_value


def test_sell_pays_the_owner(pools, canvas, token, held, alice, h):
    eth, pigment = _pool(pools, HUE)[:2]
    amount = held // 3
    fee, gross, out = h.model.sell(eth, pigment, amount)
    assert pools.quoteSell(HUE, amount) == out
    fees, before = pools.fees(), alice.balance()
    tx = pools.sell(token, HUE, amount, 0, h.FAR_DEADLINE, {"from": alice})
    assert tx.return_value == out
    assert alice.balance() == before + out  # gas price 0
    assert pools.fees() == fees + fee
    assert _pool(pools, HUE)[:2] == (eth - gross, pigment + amount)
    assert pools.pigmentOf(token, HUE) == held - amount
    assert h.model.k(eth - gross, pigment + amount) >= h.model.k(eth, pigment)
    sold = tx.events["Sold"][0]
    assert (sold["tokenId"], sold["hue"], sold["owner"], sold["pigmentIn"], sold["ethOut"]) == \
        (token, HUE, alice, amount, out)
    assert tx.events["Recoloured"][0]["generation"] == canvas.generationOf(token) == 2
    assert [e.name for e in tx.events] == ["Recoloured", "Sold"]
    assert "Credited" not in tx.events
    assert_accounting(pools)


def test_sell_everything_back(pools, token, held, alice, h):
    pools.sell(token, HUE, held, 0, h.FAR_DEADLINE, {"from": alice})
    assert pools.pigmentOf(token, HUE) == 0
    eth, pigment = _pool(pools, HUE)[:2]
    assert pigment == h.POOL_PARAMS["initial_pigment"]
    assert eth > 0  # rounding dust stays in the pool, never owed to anyone
    assert_accounting(pools)
    with h.reverts_with("InsufficientPigment", token, HUE, 0, 1):
        pools.sell(token, HUE, 1, 0, h.FAR_DEADLINE, {"from": alice})


def test_round_trip_costs_the_fees(pools, token, alice, h):
    before = alice.balance()
    out = _buy(pools, token, alice, ETH).return_value
    pools.sell(token, HUE, out, 0, h.FAR_DEADLINE, {"from": alice})
    lost = before - alice.balance()
    fees = pools.fees()
    assert fees <= lost <= fees + _pool(pools, HUE)[0]  # fees, plus rounding left in the reserve
    assert _pool(pools, HUE)[0] < 10**7


def test_sell_more_than_held(pools, token, held, alice, h):
    with h.reverts_with("InsufficientPigment", token, HUE, held, held + 1):
        pools.sell(token, HUE, held + 1, 0, h.FAR_DEADLINE, {"from": alice})
    with h.reverts_with("InsufficientPigment", token, HUE + 1, 0, 1):
        pools.sell(token, HUE + 1, 1, 0, h.FAR_DEADLINE, {"from": alice})


def test_sell_of_a_token_you_do_not_own(pools, canvas, token, held, alice, bob, carol, h):
    # bob bought the pigment, but it belongs to the token, and so to its owner.
    with h.reverts_with("NotTokenOwner", token, bob):
        pools.sell(token, HUE, held, 0, h.FAR_DEADLINE, {"from": bob})
    canvas.setApprovalForAll(carol, True, {"from": alice})
    with h.reverts_with("NotTokenOwner", token, carol):  # an operator is not the owner
        pools.sell(token, HUE, held, 0, h.FAR_DEADLINE, {"from": carol})


def test_pigment_follows_the_token(pools, canvas, token, held, alice, bob, h):
    canvas.transferFrom(alice, bob, token, {"from": alice})
    assert pools.pigmentOf(token, HUE) == held
    with h.reverts_with("NotTokenOwner", token, alice):
        pools.sell(token, HUE, held, 0, h.FAR_DEADLINE, {"from": alice})
    pools.sell(token, HUE, held, 0, h.FAR_DEADLINE, {"from": bob})


def test_sell_slippage(pools, token, held, alice, h):
    out = pools.quoteSell(HUE, held)
    with h.reverts_with("InsufficientOutput", out, out + 1):
        pools.sell(token, HUE, held, out + 1, h.FAR_DEADLINE, {"from": alice})
    assert pools.sell(token, HUE, held, out, h.FAR_DEADLINE, {"from": alice}).return_value == out


def test_sell_of_dust_is_below_the_minimum(pools, token, held, alice, h):
    # One unit (1e-18 pigment) is worth less than a wei: far below the least a sale may return.
    assert pools.quoteSell(HUE, 1) == 0
    with h.reverts_with("BelowMinimumTrade", 0, h.POOL_PARAMS["min_trade"]):
        pools.sell(token, HUE, 1, 0, h.FAR_DEADLINE, {"from": alice})


def test_a_small_sale_of_the_whole_holding_is_allowed(pools, canvas, token, alice, bob, h):
    """The minimum never traps pigment: a token may always sell all it holds of a hue."""
    held = _buy(pools, token, bob, h.POOL_PARAMS["min_trade"]).return_value
    gross = h.model.sell(h.model.buy(0, h.POOL_PARAMS["initial_pigment"], h.POOL_PARAMS["min_trade"])[1],
                         h.POOL_PARAMS["initial_pigment"] - held, held // 2)[1]
    with h.reverts_with("BelowMinimumTrade", gross, h.POOL_PARAMS["min_trade"]):
        pools.sell(token, HUE, held // 2, 0, h.FAR_DEADLINE, {"from": alice})
    tx = pools.sell(token, HUE, held, 0, h.FAR_DEADLINE, {"from": alice})
    assert tx.events["Sold"][0]["pigmentIn"] == held
    assert pools.pigmentOf(token, HUE) == 0
    assert_accounting(pools)


def test_sell_expired_deadline(pools, token, held, alice, h):
    deadline = h.block_time() - 1
    with _expired(deadline):
        pools.sell(token, HUE, held, 0, deadline, {"from": alice})


def test_sell_zero(pools, token, held, alice, h):
    with h.reverts_with("ZeroAmount"):
        pools.sell(token, HUE, 0, 0, h.FAR_DEADLINE, {"from": alice})


@pytest.mark.parametrize("hue", [12, 2**256 - 1])
def test_sell_unknown_hue(pools, token, held, alice, h, hue):
    with h.reverts_with("UnknownHue", hue, 12):
        pools.sell(token, hue, 1, 0, h.FAR_DEADLINE, {"from": alice})


def test_sell_unknown_or_burnt_token(pools, canvas, token, held, alice, h):
    with h.reverts_with("ERC721NonexistentToken", 77):
        pools.sell(77, HUE, 1, 0, h.FAR_DEADLINE, {"from": alice})
    canvas.burn(token, {"from": alice})  # settles the pigment (test_burn_settles_pigment)
    with h.reverts_with("ERC721NonexistentToken", token):
        pools.sell(token, HUE, held, 0, h.FAR_DEADLINE, {"from": alice})
    assert pools.pigmentOf(token, HUE) == 0
    assert_accounting(pools)


# -------------------------------------------------- credits and reentrancy


@pytest.fixture
def receiver(PoolsTestReceiver, pools, canvas, token, held, alice):
    """A contract owning `token` (which holds pigment)."""
    contract = PoolsTestReceiver.deploy(pools, {"from": alice})
    canvas.transferFrom(alice, contract, token, {"from": alice})
    return contract


ACCEPT, REJECT, REENTER = 0, 1, 2


def test_push_to_a_contract_owner(pools, token, held, receiver, alice):
    tx = receiver.sell(token, HUE, held, {"from": alice})
    assert receiver.balance() == tx.events["Sold"][0]["ethOut"] > 0
    assert "Credited" not in tx.events
    assert_accounting(pools)


def test_eth_that_cannot_be_pushed_is_credited(pools, canvas, token, held, receiver, alice, bob, h):
    receiver.setMode(REJECT, {"from": alice})
    tx = receiver.sell(token, HUE, held // 2, {"from": alice})
    out = tx.events["Sold"][0]["ethOut"]
    credited = tx.events["Credited"][0]
    assert (credited["account"], credited["amount"]) == (receiver, out)
    assert receiver.balance() == 0
    assert pools.credits(receiver) == pools.totalCredits() == out
    assert_accounting(pools)

    tx = receiver.sell(token, HUE, held // 2, {"from": alice})  # credits add up
    total = out + tx.events["Sold"][0]["ethOut"]
    assert pools.credits(receiver) == pools.totalCredits() == total
    assert_accounting(pools)

    with h.reverts_with("ZeroAddress"):
        receiver.withdrawCredit(h.ZERO_ADDRESS, {"from": alice})
    with h.reverts_with("TransferFailed", canvas, total):  # the canvas takes no ETH either
        receiver.withdrawCredit(canvas, {"from": alice})
    before = bob.balance()
    tx = receiver.withdrawCredit(bob, {"from": alice})
    assert bob.balance() == before + total
    event = tx.events["CreditWithdrawn"][0]
    assert (event["account"], event["to"], event["amount"]) == (receiver, bob, total)
    assert pools.credits(receiver) == pools.totalCredits() == 0
    assert_accounting(pools)
    with h.reverts_with("NothingToWithdraw", receiver):
        receiver.withdrawCredit(bob, {"from": alice})


def test_withdraw_credit_with_nothing(pools, alice, h):
    with h.reverts_with("NothingToWithdraw", alice):
        pools.withdrawCredit(alice, {"from": alice})


def test_reentrancy_is_refused(pools, token, held, receiver, alice, h):
    """The receiver tries to sell again while its first sale pays it: the lock refuses,
    the first sale goes through once."""
    receiver.setMode(REENTER, {"from": alice})
    tx = receiver.sell(token, HUE, held // 2, {"from": alice})
    selector = keccak(text="ReentrancyGuardReentrantCall()")[:4]
    assert bytes(receiver.reentryError()) == selector
    assert len(tx.events["Sold"]) == 1
    assert receiver.balance() == tx.events["Sold"][0]["ethOut"]
    assert pools.pigmentOf(token, HUE) == held - held // 2
    assert_accounting(pools)


# ------------------------------------------------------------------ fees


def test_withdraw_fees(pools, token, held, admin, alice, carol, h):
    pools.sell(token, HUE, held, 0, h.FAR_DEADLINE, {"from": alice})
    fees = pools.fees()
    assert fees > 0
    before = carol.balance()
    tx = pools.withdrawFees(carol, {"from": admin})
    assert carol.balance() == before + fees
    assert (tx.events["FeesWithdrawn"][0]["to"], tx.events["FeesWithdrawn"][0]["amount"]) == (carol, fees)
    assert pools.fees() == 0
    assert_accounting(pools)
    tx = pools.withdrawFees(carol, {"from": admin})
    assert tx.events["FeesWithdrawn"][0]["amount"] == 0


def test_withdraw_fees_rules(pools, canvas, token, held, admin, alice, h):
    fees = pools.fees()
    with h.reverts_with("OwnableUnauthorizedAccount", alice):
        pools.withdrawFees(alice, {"from": alice})
    with h.reverts_with("ZeroAddress"):
        pools.withdrawFees(h.ZERO_ADDRESS, {"from": admin})
    with h.reverts_with("TransferFailed", canvas, fees):
        pools.withdrawFees(canvas, {"from": admin})
    assert pools.fees() == fees


def test_ownership_moves_in_two_steps(pools, admin, alice, bob, h):
    pools.transferOwnership(alice, {"from": admin})
    assert pools.owner() == admin
    with h.reverts_with("OwnableUnauthorizedAccount", bob):
        pools.acceptOwnership({"from": bob})
    pools.acceptOwnership({"from": alice})
    assert pools.owner() == alice
    with h.reverts_with("OwnableUnauthorizedAccount", admin):
        pools.withdrawFees(admin, {"from": admin})


def test_skim_forced_eth(pools, token, held, admin, alice, h):
    assert pools.skim({"from": admin}).events["Skimmed"][0]["amount"] == 0
    fees = pools.fees()
    forced = 12345
    # ETH can reach a contract without a call (a block reward, a self-destruct): simulate it.
    brownie.web3.provider.make_request("anvil_setBalance", [pools.address, hex(pools.balance() + forced)])
    assert pools.balance() == pools.accountedEth() + forced
    with h.reverts_with("OwnableUnauthorizedAccount", alice):
        pools.skim({"from": alice})
    tx = pools.skim({"from": admin})
    assert tx.return_value == tx.events["Skimmed"][0]["amount"] == forced
    assert pools.fees() == fees + forced
    assert_accounting(pools)


# ----------------------------------------------------------------- views


def test_views_of_unknown_hue(pools, h):
    with h.reverts_with("UnknownHue", 12, 12):
        pools.pigmentOf(1, 12)
    with h.reverts_with("UnknownHue", 12, 12):
        pools.quoteBuy(12, PAYMENT)
    with h.reverts_with("UnknownHue", 12, 12):
        pools.quoteSell(12, 1)


def test_effective_weights_of_a_token_without_pigment(pools, h):
    assert list(pools.effectiveWeights(42)) == [0] * 12
    assert pools.pigmentOf(42, 0) == 0


# ------------------------------------------------------- the renderer's side


@pytest.mark.parametrize("name", ["ChaosCanvas", "ColourPools"])
def test_shipped_abi_matches_the_build(name):
    """renderer/abi/<name>.json is the compiled ABI (`make abi` refreshes it)."""
    import json
    from importlib import resources
    from pathlib import Path

    shipped = json.loads(resources.files("renderer.abi").joinpath(f"{name}.json").read_text())
    assert shipped == json.loads(Path(f"build/contracts/{name}.json").read_text())["abi"]


def test_renderer_reads_the_pools_with_web3(pools, token, alice, h):
    """renderer/pools.py against the live contract, through plain web3 and the shipped ABI."""
    from renderer.pools import format_pools, pools_abi, read_pool_state

    contract = brownie.web3.eth.contract(address=pools.address, abi=pools_abi())
    before = brownie.web3.eth.block_number
    _buy(pools, token, alice, ETH + ETH // 10)  # more than half the pigment ...
    brownie.chain.sleep(h.POOL_PARAMS["twap_window"])  # ... for an hour: overused
    brownie.chain.mine()
    states = read_pool_state(contract)
    assert [(s.eth_reserve, s.pigment_reserve, s.price, s.crashed, s.rebase_index, s.next_rebase_at)
            for s in states] == [tuple(state)[:6] for state in pools.poolState()]
    assert states[HUE].overused and states[HUE].degrees == (90, 120)
    assert read_pool_state(contract, block_identifier=before)[HUE].eth_reserve == 0  # as of a past block
    table = format_pools(states)
    assert len(table.splitlines()) == 2 + 12 and "overused" in table

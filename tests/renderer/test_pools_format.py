"""renderer.pools: the pool table (`format_pools`), the poolState() mapping, the shipped ABI."""

from types import SimpleNamespace

import pytest

from renderer.pools import COLUMNS, INDEX_ONE, WAD, HueState, format_pools, pools_abi, read_pool_state

PIGMENT = 10**24  # the deploy default: 1,000,000 pigment per pool


def _state(hue, hue_count=12, eth=0, pigment=PIGMENT, crashed=False, index=INDEX_ONE, next_rebase_at=0):
    price = (WAD + eth) * WAD // pigment  # 1 ether of virtual ETH
    return HueState(hue, hue_count, eth, pigment, price, crashed, index, next_rebase_at)


def _rows(table):
    lines = table.splitlines()
    return lines[0], lines[1], [line.split() for line in lines[2:]]


def test_fresh_pools():
    header, rule, rows = _rows(format_pools([_state(hue) for hue in range(12)]))
    assert header.split("  ")[0] == "hue"
    for column in COLUMNS:
        assert column in header
    assert set(rule) <= {"-", " "}
    assert len(rows) == 12
    assert rows[0] == ["0", "0-30", "0.000000", "1,000,000.00", "1,000.000", "ok", "100.00%"]
    assert rows[11][:2] == ["11", "330-360"]


def test_moved_crashed_overused_and_rebased_hues():
    states = [
        _state(0, eth=25 * 10**17, pigment=PIGMENT * 2 // 7),  # bought: dearer
        _state(1, eth=4 * 10**18, pigment=PIGMENT // 5 - 1, crashed=True, next_rebase_at=1_800_000_000),
        _state(2, eth=10**18, pigment=PIGMENT * 45 // 100, index=810_000_000, next_rebase_at=1_800_000_000),
        _state(3, index=10**6),  # the minimum index
    ]
    _, _, rows = _rows(format_pools(states))
    assert rows[0][2:6] == ["2.500000", "285,714.29", "12,250.000", "ok"]  # rounded to the places shown
    assert rows[1][5] == "CRASHED"  # crashed wins over overused
    assert rows[2][5:] == ["overused", "81.00%"]
    assert rows[3][6] == "0.10%"


def test_columns_line_up():
    table = format_pools([_state(hue, eth=10**hue) for hue in range(12)])
    lines = table.splitlines()
    assert len({len(line) for line in lines[2:]}) == 1  # right-aligned numbers end together
    assert len(lines[1]) == len(lines[2])  # the rule under the header spans the columns


@pytest.mark.parametrize("hue_count, hue, arc", [(12, 0, "0-30"), (12, 5, "150-180"), (6, 5, "300-360"),
                                                 (360, 359, "359-360"), (1, 0, "0-360")])
def test_degrees(hue_count, hue, arc):
    state = _state(hue, hue_count=hue_count)
    assert _rows(format_pools([state]))[2][0][1] == arc
    start, end = state.degrees
    assert end - start == 360 / hue_count


def test_no_pools():
    assert format_pools([]).splitlines()[-1] == "(no pools)"


def test_read_pool_state_maps_the_tuples():
    rows = [(0, PIGMENT, 10**12, False, INDEX_ONE, 0, PIGMENT, 10**12), (7, 5, 9, True, 10**6, 1_800_000_000, 6, 11),
            (1, 2, 3, False, 4, 0, 2, 3)]
    calls = []

    def call(block_identifier):
        calls.append(block_identifier)
        return rows

    contract = SimpleNamespace(functions=SimpleNamespace(poolState=lambda: SimpleNamespace(call=call)))
    states = read_pool_state(contract, block_identifier=1234)
    assert calls == [1234]
    assert [s.hue for s in states] == [0, 1, 2] and {s.hue_count for s in states} == {3}
    assert states[1] == HueState(1, 3, 7, 5, 9, True, 10**6, 1_800_000_000)
    assert (states[1].tw_pigment_reserve, states[1].spot_price) == (6, 11)
    assert states[1].overused and not states[0].overused
    assert states[1].degrees == (120, 240)
    assert states[1].index_fraction == 0.001


def test_shipped_abi_has_the_views_the_renderer_calls():
    abi = {entry.get("name"): entry for entry in pools_abi() if entry["type"] == "function"}
    components = [c["name"] for c in abi["poolState"]["outputs"][0]["components"]]
    # read_pool_state reads the first six (price and crashed are the time-weighted ones renders use).
    assert components[:6] == ["ethReserve", "pigmentReserve", "price", "crashed", "rebaseIndex", "nextRebaseAt"]
    assert components[6:] == ["twPigmentReserve", "spotPrice"]
    assert [i["type"] for i in abi["effectiveWeights"]["inputs"]] == ["uint256"]
    assert abi["effectiveWeights"]["outputs"][0]["type"] == "uint256[]"
    events = {entry["name"] for entry in pools_abi() if entry["type"] == "event"}
    assert {"Bought", "Sold", "FlashCrash", "Recovered", "Rebased"} <= events

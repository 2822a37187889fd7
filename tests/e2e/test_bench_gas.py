"""`chaos bench gas`: both brownie gas scripts, each on its own throwaway Anvil."""

import re
import subprocess
import sys

import pytest

from renderer.nodes import PROJECT_ROOT


@pytest.mark.e2e
def test_gas_bench_prints_every_figure_and_a_buy_no_dearer_than_a_uniswap_swap():
    result = subprocess.run([sys.executable, "-m", "renderer.cli", "bench", "gas"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    gas = {label: int(value) for label, value in re.findall(r"^(.+): (\d+) gas$", result.stdout, re.MULTILINE)}
    for label in ("mint (first)", "transferFrom", "commit (single)", "commitBatch (10 tokens)", "buy (again)",
                  "sell (half of the hue)", "uniswap-v2 pair.swap (again)"):
        assert 21_000 < gas[label] < 1_000_000, label
    assert gas["commitBatch per token"] < gas["commit (single)"]  # batching pays
    last = re.fullmatch(r"buy/uniswap-v2-swap gas ratio: ([\d.]+)", result.stdout.strip().splitlines()[-1])
    assert last, result.stdout[-500:]
    ratio = float(last.group(1))
    assert ratio == pytest.approx(gas["buy (again)"] / gas["uniswap-v2 pair.swap (again)"], abs=1e-3)
    assert ratio <= 1.0  # the pools' target: a colour buy costs no more gas than a Uniswap v2 swap

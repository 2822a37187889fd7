"""The colour pools reach the art: re-colourings, everyone's palette, flash crashes, `chaos buy`,
and `chaos verify` of all of it — on real Anvil + IPFS nodes, with the daemon."""

from __future__ import annotations

import json

import pytest
from web3.logs import DISCARD

from renderer import transactions, wallet
from renderer.cli import main
from renderer.daemon import open_daemon
from renderer.ipfs import Pinner
from renderer.metadata import encode_metadata
from renderer.palette import base_palette, to_hex
from renderer.png import decode_png
from renderer.verify import failures, verify_token

from .helpers import COLLECTOR, RENDERER, SECOND, committed

pytestmark = pytest.mark.e2e

ETH = 10**18


def _metadata(daemon, token_id, generation):
    return json.loads(open(daemon.store.job(token_id, generation).metadata_path).read())


def _deadline(canvas):
    return canvas.w3.eth.get_block("latest")["timestamp"] + 600


def test_a_purchase_recolours_its_token_and_moves_everyone_elses_colours(canvas, settings, ipfs_node):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a field of poppies under a grey sky")
    daemon = open_daemon(settings, RENDERER)
    assert daemon.pools is not None, "the deployment's pools are found from the canvas's POOLS_ROLE"
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)

    # A stranger buys hue 3 for the collector's token: anyone may colour any token.
    pigment, _ = wallet.buy_colour(canvas, daemon.pools, SECOND, token_id, 3, ETH // 2)
    daemon.run(until=committed(daemon, token_id, 1), poll_interval=0.1, timeout=60)

    before, after = _metadata(daemon, token_id, 0), _metadata(daemon, token_id, 1)
    provenance = after["provenance"]
    assert provenance["kind"] == "recolour" and provenance["mask"] is None and provenance["entropy"] is None
    assert [int(w) for w in provenance["colour"]["weights"]] == [0, 0, 0, pigment] + [0] * 8
    assert provenance["palette"] != before["provenance"]["palette"]
    assert daemon.store.job(token_id, 1).changed_pixel_fraction > 0.5  # the whole picture is re-graded

    # The trade made hue 3 dearer, and prices reach every token's next render through the pools'
    # time-weighted price: an hour on, a token minted by another wallet is drawn with a palette
    # pulled off its base palette.
    _an_hour_later(canvas)
    other, _ = wallet.mint(canvas, SECOND, "a field of poppies under a grey sky")
    daemon.run(until=committed(daemon, other, 0), poll_interval=0.1, timeout=60)
    drawn = _metadata(daemon, other, 0)["provenance"]
    assert [int(w) for w in drawn["colour"]["weights"]] == [0] * 12
    assert drawn["palette"] != [to_hex(c) for c in base_palette(SECOND.address)]

    checks = verify_token(canvas, Pinner(ipfs_node.api_multiaddr), token_id)
    assert not failures(checks), failures(checks)
    assert {(1, "colour"), (1, "rerender"), (1, "age-layer")} <= {(c.generation, c.name) for c in checks}


def _an_hour_later(canvas):
    """Let an hour pass on the chain: the pools' time-weighted reserve catches up with the spot one."""
    canvas.w3.provider.make_request("evm_increaseTime", [3_600])
    canvas.w3.provider.make_request("evm_mine", [])


def test_a_flash_crash_splits_the_channels_of_its_holders_until_it_recovers(canvas, settings, ipfs_node):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a glass harbour at dusk")
    daemon = open_daemon(settings, RENDERER)
    pools = daemon.pools
    # 5 ETH against 1 ETH of virtual ETH takes hue 9's pigment reserve under its 20% floor ...
    pigment, tx = wallet.buy_colour(canvas, pools, COLLECTOR, token_id, 9, 5 * ETH)
    receipt = canvas.w3.eth.get_transaction_receipt(tx)
    assert not pools.events.FlashCrash().process_receipt(receipt, errors=DISCARD)  # ... but renders read
    daemon.run(until=committed(daemon, token_id, 1), poll_interval=0.1, timeout=60)  # the hour's average
    assert _metadata(daemon, token_id, 1)["provenance"]["colour"]["crashed_held"] == []

    # Held under the floor for an hour, the hue is crashed: the next re-colouring splits the channels.
    _an_hour_later(canvas)
    more, tx = wallet.buy_colour(canvas, pools, COLLECTOR, token_id, 9, ETH // 100)
    receipt = canvas.w3.eth.get_transaction_receipt(tx)
    assert len(pools.events.FlashCrash().process_receipt(receipt, errors=DISCARD)) == 1
    daemon.run(until=committed(daemon, token_id, 2), poll_interval=0.1, timeout=60)
    crashed = _metadata(daemon, token_id, 2)
    assert crashed["provenance"]["colour"]["crashed_held"] == [9]
    assert {"trait_type": "Crashed hue held", "value": 9} in crashed["attributes"]

    # Selling most of it back lifts the reserve over the floor; an hour on, the hue has recovered
    # and the next render draws no split.
    call = pools.functions.sell(token_id, 9, (pigment + more) * 9 // 10, 1, _deadline(canvas))
    transactions.transact(canvas.w3, COLLECTOR, call)
    daemon.run(until=committed(daemon, token_id, 3), poll_interval=0.1, timeout=60)
    _an_hour_later(canvas)
    _, tx = wallet.buy_colour(canvas, pools, COLLECTOR, token_id, 9, ETH // 100)
    receipt = canvas.w3.eth.get_transaction_receipt(tx)
    assert len(pools.events.Recovered().process_receipt(receipt, errors=DISCARD)) == 1
    daemon.run(until=committed(daemon, token_id, 4), poll_interval=0.1, timeout=60)
    assert _metadata(daemon, token_id, 4)["provenance"]["colour"]["crashed_held"] == []

    assert not failures(verify_token(canvas, Pinner(ipfs_node.api_multiaddr), token_id))


def test_forged_colour_inputs_are_caught(canvas, settings, ipfs_node):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "an orchard in winter")
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)
    wallet.buy_colour(canvas, daemon.pools, COLLECTOR, token_id, 5, ETH // 10)
    daemon.read_chain(), daemon.render_ready()
    job = daemon.store.job(token_id, 1)
    pinner = Pinner(ipfs_node.api_multiaddr)
    pinner.pin(open(job.image_path, "rb").read())  # the honest image: only the colour inputs are forged
    forged = json.loads(open(job.metadata_path).read())
    forged["provenance"]["colour"]["weights"][5] = str(10**24)  # claims far more pigment than was bought
    cid = pinner.pin(encode_metadata(forged))
    transactions.transact(canvas.w3, RENDERER, canvas.commit_call(token_id, 1, cid))
    failed = {(c.generation, c.name) for c in failures(verify_token(canvas, pinner, token_id))}
    assert (1, "colour") in failed


def test_chaos_buy_recolours_and_refuses_bad_input_clearly(canvas, settings, capsys):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a kite over salt flats")
    node = ["--rpc-url", settings.rpc_url, "--canvas", settings.canvas, "--key", "0x" + SECOND.key.hex().removeprefix("0x")]
    assert main(["buy", str(token_id), "1", "--eth", "0.01", *node]) == 0
    assert f"pigment of hue 1 for token {token_id}" in capsys.readouterr().out
    assert canvas.contract.functions.generationOf(token_id).call() == 1

    assert main(["buy", str(token_id), "12", "--eth", "0.01", *node]) == 2
    assert "hue 12 does not exist: the pools have hues 0 to 11" in capsys.readouterr().err
    assert main(["buy", str(token_id), "1", "--eth", "lots", *node]) == 2
    assert "is not a number of ETH" in capsys.readouterr().err
    assert main(["buy", "999", "1", "--eth", "0.01", *node]) == 2
    assert "token 999 does not exist" in capsys.readouterr().err
    assert canvas.contract.functions.generationOf(token_id).call() == 1  # nothing was sent


def test_a_hot_gpu_trace_makes_a_phoenix_that_verifies_and_an_age_map(canvas, settings, ipfs_node, tmp_path,
                                                                      capsys):
    trace = tmp_path / "hot.jsonl"
    trace.write_text('# a GPU over its 85 C threshold\n{"temperature_c": 97, "memory_used_bytes": 70000000000, '
                     '"memory_total_bytes": 80000000000, "power_mw": 650000, "power_limit_mw": 700000}\n')
    hot = settings.with_overrides(telemetry_replay=trace)
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a cathedral of ice")
    daemon = open_daemon(hot, RENDERER)
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    daemon.run(until=committed(daemon, token_id, 1), poll_interval=0.1, timeout=60)

    mint = _metadata(daemon, token_id, 0)
    provenance = mint["provenance"]
    assert provenance["phoenix"]["reason"] == "temperature"
    assert provenance["telemetry"]["source"] == "replay" and provenance["telemetry"]["origin"] == "hot.jsonl:2"
    assert provenance["image"]["width"] == 32  # reborn at half the 64 px asked for
    assert any(a["trait_type"] == "Phoenix" for a in mint["attributes"])
    assert not failures(verify_token(canvas, Pinner(ipfs_node.api_multiaddr), token_id))

    output = tmp_path / "age.png"
    assert main(["age", str(token_id), "--output", str(output), "--rpc-url", settings.rpc_url,
                 "--canvas", settings.canvas, "--ipfs-api", settings.ipfs_api]) == 0
    assert "pixel-age map written" in capsys.readouterr().out
    ages = decode_png(output.read_bytes())[..., 0]
    # Generation 1 repainted exactly its mask (1% of 32 x 32 = 10 pixels): age 0, black; the rest white.
    assert (ages == 0).sum() == 10 and (ages == 255).sum() == 32 * 32 - 10

    assert main(["age", str(token_id), "--generation", "5", "--rpc-url", settings.rpc_url,
                 "--canvas", settings.canvas, "--ipfs-api", settings.ipfs_api]) == 2
    assert "generation 5 of token" in capsys.readouterr().err


def test_chaos_pools_prints_every_hue_and_a_trade_shows(canvas, settings, capsys):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a tide table")
    node = ["--rpc-url", settings.rpc_url, "--canvas", settings.canvas]
    key = ["--key", "0x" + COLLECTOR.key.hex().removeprefix("0x")]
    assert main(["buy", str(token_id), "11", "--eth", "0.2", *node, *key]) == 0
    capsys.readouterr()
    _an_hour_later(canvas)  # the prices shown are the time-weighted ones renders read

    assert main(["pools", *node]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split()[:2] == ["hue", "degrees"] and len(table) == 2 + 1 + 12
    assert table[-1].split()[:2] == ["11", "330-360"]

    assert main(["pools", "--json", *node]) == 0
    hues = json.loads(capsys.readouterr().out)["hues"]
    assert len(hues) == 12 and hues[11]["degrees"] == [330, 360]
    assert int(hues[11]["price_wei_per_pigment"]) > int(hues[10]["price_wei_per_pigment"])
    assert int(hues[11]["eth_reserve_wei"]) > 0

    assert main(["pools", "--pools", settings.canvas, *node]) == 2  # the canvas is not its own pools
    assert "does not hold POOLS_ROLE" in capsys.readouterr().err

"""The Phoenix economy end to end on real Anvil + IPFS: a hot replayed trace makes a Phoenix
generation, the daemon's market stage opens the auction of the frame before it, collectors bid,
reveal, settle and withdraw through `chaos auction`; the thermal oracle posts a forecast from a
replayed trace through `chaos oracle`."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from renderer import transactions, wallet
from renderer.auction import frames_of, open_auction
from renderer.cli import main
from renderer.daemon import open_daemon
from renderer.devtools.demo import ANVIL_KEYS
from renderer.errors import SetupError
from renderer.gallery.server import serve_gallery
from renderer.ipfs import Replicas
from renderer.project import PROJECT_ROOT
from renderer.oracle import open_oracle, read_on_chain
from renderer.phoenix_market import PhoenixMarket

from .helpers import COLLECTOR, RENDERER, SECOND, committed, rpc

pytestmark = pytest.mark.e2e

#: Anvil's default dev accounts 4-6 (mnemonic "test test ... junk"): public, local chains only.
BIDDER_KEYS = ["0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
               "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
               "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e"]
FINNEY = 10**15
HOUR = 3_600  # scripts/deploy_phoenix.py's default windows
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path(__file__).with_name("auctions_driver.js")


def _jump(w3, seconds):
    rpc(w3, "evm_increaseTime", seconds)
    rpc(w3, "evm_mine")


def _frame_metadata(frames, frame_id):
    uri = frames.functions.tokenURI(frame_id).call()
    return json.loads(base64.b64decode(uri.removeprefix("data:application/json;base64,")))


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


def test_a_hot_trace_sells_the_last_frame_through_the_cli(canvas, deployment, settings, ipfs_node, tmp_path,
                                                          capsys, monkeypatch):
    w3 = canvas.w3
    auction = open_auction(w3, deployment["auction"])
    frames = frames_of(auction)
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a clock tower melting in the rain")
    cool = open_daemon(settings, RENDERER)  # no telemetry: generation 0 at full strength
    cool.run(until=committed(cool, token_id, 0), poll_interval=0.1, timeout=60)
    cool.close()
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)  # generation 1, SECOND holds the token

    trace = tmp_path / "hot.jsonl"
    trace.write_text('{"temperature_c": 97, "memory_used_bytes": 70000000000, "memory_total_bytes": 80000000000}\n')
    monkeypatch.setenv("CHAOS_AUCTION", auction.address)  # the daemon's market stage reports rebirths there
    hot = open_daemon(settings.with_overrides(telemetry_replay=trace), RENDERER)
    hot.run(until=lambda: auction.functions.auctionOf(token_id, 0).call() != 0, poll_interval=0.1, timeout=60)
    reborn = json.loads(open(hot.store.job(token_id, 1).metadata_path).read())
    assert reborn["provenance"]["phoenix"]["level"] == 1 and hot.store.job(token_id, 1).state == "committed"
    assert auction.functions.auctionOf(token_id, 0).call() == 1 == auction.functions.auctionCount().call()
    # A restarted daemon (a fresh market stage over the same store) opens nothing twice.
    assert PhoenixMarket(auction, RENDERER, hot.store).report_settled() == 0
    frame_job = hot.store.job(token_id, 0)
    hot.close()
    monkeypatch.delenv("CHAOS_AUCTION")

    ipfs = Replicas(settings.ipfs_api, settings.ipfs_timeout)
    gallery = serve_gallery(canvas, ipfs, port=0, discover_pools=False)
    try:
        gallery.gallery.auction_address = auction.address
        (shown,) = json.loads(_get(f"{gallery.url}/api/auctions")[1])["open"]
        assert (shown["token_id"], shown["generation"], shown["phase"]) == (token_id, 0, "bidding")
        assert _get(f"{gallery.url}/ipfs/{shown['image_cid']}")[0] == 200
        assert b"showAuctions" in _get(f"{gallery.url}/auctions.js")[1]
        _sell_through_the_cli(w3, auction, frames, token_id, frame_job, deployment, settings, tmp_path, capsys)
        (sold,) = json.loads(_get(f"{gallery.url}/api/auctions")[1])["settled"]
        assert sold["sold"] and sold["price_wei"] == str(50 * FINNEY) and sold["image_cid"] == frame_job.image_cid
        if CHROMIUM.exists():  # the page itself (Debian's chromium: `make browser`); the API above is checked anyway
            options = {"gallery": gallery.url, "chromium": str(CHROMIUM), "out": str(tmp_path / "browser"),
                       "token": token_id, "generation": 0}
            result = subprocess.run(["node", str(DRIVER), json.dumps(options)], cwd=PROJECT_ROOT,
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr[-3000:]
            assert "Sold for 0.05 ETH" in json.loads(result.stdout.strip().splitlines()[-1])["sold"][0]["text"]
    finally:
        gallery.close()
        ipfs.close()


def _sell_through_the_cli(w3, auction, frames, token_id, frame_job, deployment, settings, tmp_path, capsys):
    node = ["--rpc-url", settings.rpc_url, "--auction", auction.address]
    out = ["--out", str(tmp_path / "collector")]
    a, b, c = BIDDER_KEYS
    assert main(["auction", "list", *node]) == 0
    assert "bidding closes in" in capsys.readouterr().out
    assert main(["auction", "bid", "1", "--eth", "0.05", "--deposit", "0.2", "--key", a, *node, *out]) == 0
    assert "as commit 0" in capsys.readouterr().out
    assert main(["auction", "bid", "1", "--eth", "0.03", "--key", b, *node, *out]) == 0
    assert main(["auction", "bid", "1", "--eth", "0.04", "--key", c, *node, *out]) == 0  # never revealed
    assert main(["auction", "bid", "1", "--eth", "0.5", "--deposit", "0.1", "--key", c, *node, *out]) == 2
    assert "above the deposit" in capsys.readouterr().err
    assert main(["auction", "reveal", "1", "0", "--key", a, *node, *out]) == 2
    assert "the reveal window opens at" in capsys.readouterr().err

    _jump(w3, HOUR + 1)
    assert main(["auction", "reveal", "1", "0", "--key", a, *node, *out]) == 0
    assert main(["auction", "reveal", "1", "1", "--key", b, *node, *out]) == 0
    assert main(["auction", "reveal", "1", "2", "--bid-eth", "0.04", "--salt", "0x" + "00" * 32, "--key", c,
                 *node]) == 2
    assert "wrong salt or bid" in capsys.readouterr().err

    _jump(w3, HOUR + 1)
    assert main(["auction", "reveal", "1", "2", "--key", c, *node, *out]) == 2  # too late now
    assert main(["auction", "settle", "1", "--key", b, *node]) == 0
    winner = Account.from_key(a).address
    assert f"sold for 0.05 ETH to {winner}" in capsys.readouterr().out
    for key in (a, b, c, ANVIL_KEYS["second_collector"]):
        assert main(["auction", "withdraw", "--key", key, *node]) == 0
    assert main(["auction", "withdraw", "--key", b, *node]) == 2  # nothing left
    assert "nothing to withdraw" in capsys.readouterr().err

    withdrawn = {e.args.bidder: (e.args.amount, e.args.forfeited)
                 for e in auction.events.DepositWithdrawn().get_logs(from_block=0)}
    assert withdrawn[winner] == (150 * FINNEY, 0)  # the deposit less the price
    assert withdrawn[Account.from_key(b).address] == (30 * FINNEY, 0)  # a loser withdraws in full
    assert withdrawn[Account.from_key(c).address] == (36 * FINNEY, 4 * FINNEY)  # 10% forfeited, unrevealed
    (claim,) = auction.events.Claimed().get_logs(from_block=0)
    assert (claim.args.account, claim.args.amount) == (SECOND.address, 25 * FINNEY)  # half the price
    treasury_before = w3.eth.get_balance(deployment["deployer"])
    transactions.transact(w3, Account.from_key(b), auction.functions.withdrawProceeds())
    assert w3.eth.get_balance(deployment["deployer"]) - treasury_before == 25 * FINNEY + 4 * FINNEY
    assert w3.eth.get_balance(auction.address) == 0

    assert frames.functions.ownerOf(1).call() == winner
    meta = _frame_metadata(frames, 1)
    attributes = {x["trait_type"]: x["value"] for x in meta["attributes"]}
    assert (attributes["Canvas token"], attributes["Generation"], attributes["Phoenix generation"]) == (token_id, 0, 1)
    assert meta["image"] == f"ipfs://{frame_job.image_cid}"
    assert attributes["Provenance"] == f"ipfs://{frame_job.metadata_cid}"

    assert main(["auction", "list", "--json", *node]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["phase"] == "settled" and listed["frame_owner"] == winner and listed["highest_bid"] == 50 * FINNEY


def test_the_oracle_posts_a_replayed_forecast_and_explains_it(deployment, settings, tmp_path, capsys):
    trace = tmp_path / "warming.jsonl"
    trace.write_text("".join(json.dumps({"temperature_c": 60 + 2 * i, "memory_used_bytes": 40 * 10**9,
                                         "memory_total_bytes": 80 * 10**9}) + "\n" for i in range(12)))
    args = ["oracle", "--telemetry-replay", str(trace), "--rpc-url", settings.rpc_url, "--oracle",
            deployment["oracle"]]
    assert main([*args, "--post", "--key", ANVIL_KEYS["renderer"]]) == 0
    text = capsys.readouterr().out
    assert "a replayed trace" in text and "not a GPU" in text and "posted (tx" in text
    assert "next Phoenix event expected at" in text and "set by temperature" in text

    assert main([*args, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    oracle = open_oracle(Web3(Web3.HTTPProvider(settings.rpc_url)), deployment["oracle"])
    on_chain = read_on_chain(oracle)
    assert "0x" + on_chain.sample_digest.hex() == shown["sample_digest"]
    # 60..82 C, +2 C a minute: the line reaches 85 C 90 s after the last sample, "now" when the forecast
    # was fitted (the latest block then); the post lands in a later block, a few seconds on.
    assert on_chain.expected_at - on_chain.posted_at in range(60, 90)
    assert on_chain.confidence == shown["confidence_bps"] == 10_000

    assert main([*args, "--post", "--key", ANVIL_KEYS["renderer"]]) == 0
    assert "not posted: the oracle takes one post per interval" in capsys.readouterr().out


def test_the_daemons_oracle_stage_posts_from_its_own_replay(canvas, deployment, settings, tmp_path, monkeypatch):
    from renderer.phoenix_stages import phoenix_reports

    trace = tmp_path / "cooling.jsonl"
    trace.write_text("".join(json.dumps({"temperature_c": 80 - i}) + "\n" for i in range(12)))
    monkeypatch.setenv("CHAOS_ORACLE", deployment["oracle"])
    monkeypatch.delenv("CHAOS_AUCTION", raising=False)
    oracle = open_oracle(canvas.w3, deployment["oracle"])
    before = read_on_chain(oracle)
    (report,) = phoenix_reports(settings.with_overrides(telemetry_replay=trace), canvas.w3, RENDERER, store=None)
    posted = report()
    after = read_on_chain(oracle)
    if before.next_post_at and after.posted_at == before.posted_at:
        # The oracle test above posted less than an interval ago on this module's chain: wait it out.
        _jump(canvas.w3, before.next_post_at - before.posted_at)
        (report,) = phoenix_reports(settings.with_overrides(telemetry_replay=trace), canvas.w3, RENDERER, store=None)
        posted = report()
        after = read_on_chain(oracle)
    assert posted == 1 and after.posted_at > before.posted_at
    assert after.expected_at == 0 and after.confidence == 10_000  # cooling: no collapse foreseen, a full window
    assert report() == 0  # at most one fit per period
    monkeypatch.setenv("CHAOS_ORACLE", "")
    assert phoenix_reports(settings, canvas.w3, SECOND, store=None) == []  # nothing configured: no stage
    monkeypatch.setenv("CHAOS_ORACLE", deployment["oracle"])
    assert phoenix_reports(settings, canvas.w3, SECOND, store=None) == []  # no ORACLE_ROLE: no stage
    monkeypatch.setenv("CHAOS_ORACLE", SECOND.address)
    with pytest.raises(SetupError, match="no contract at"):
        phoenix_reports(settings, canvas.w3, RENDERER, store=None)

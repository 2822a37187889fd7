"""`chaos oracle` and `chaos auction ...`: the Phoenix economy's commands (parsers and actions).

Kept beside `renderer.cli` (which only registers them) so the shared CLI module stays small.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import ChaosError


def add_parsers(commands, node_options, key_options, store_options) -> None:
    oracle = commands.add_parser(
        "oracle", help="the thermal oracle: forecast the GPU's next Phoenix event from its telemetry, and post it",
        description="Fit a least-squares line to the last --window telemetry samples (temperature, and memory "
                    "used / total) against the Phoenix limits, and explain the forecast: when the next Phoenix "
                    "rebirth is expected, how confident the fit is, and which samples it used (their digest). "
                    "With --telemetry-replay the samples come from a replayed trace (no GPU), and it says so; "
                    "else from NVML. With --oracle the forecast on chain is shown beside it, and --post posts "
                    "the new one (renderer key) when it changed meaningfully and the oracle's interval allows.")
    node_options(oracle)
    oracle.add_argument("--oracle", help="ThermalOracle address [CHAOS_ORACLE]")
    oracle.add_argument("--telemetry-replay", type=Path,
                        help="JSON-lines telemetry trace instead of NVML [CHAOS_TELEMETRY_REPLAY]")
    oracle.add_argument("--max-temperature", type=int, help="Phoenix threshold, Celsius [CHAOS_MAX_TEMPERATURE; "
                                                            "default 85]")
    oracle.add_argument("--memory-limit", type=float, default=0.95,
                        help="share of GPU memory in use that counts as a collapse (default %(default)s)")
    oracle.add_argument("--window", type=int, default=12, help="samples fitted (default %(default)s)")
    oracle.add_argument("--period", type=int, default=60,
                        help="seconds between samples: replayed lines are read this far apart, NVML is sampled "
                             "this often (default %(default)s)")
    oracle.add_argument("--horizon", type=int, default=86_400,
                        help="seconds ahead beyond which no collapse is forecast (default %(default)s)")
    oracle.add_argument("--post", action="store_true", help="post the forecast on chain (renderer key) if changed")
    oracle.add_argument("--json", action="store_true", help="print JSON")
    key_options(oracle, "renderer", env=True)

    auction = commands.add_parser(
        "auction", help="Last Frame auctions (sealed bids on the frame before a Phoenix rebirth)",
        description="When a render is reborn by Phoenix, the generation before it is sold as a Last Frame token "
                    "by a sealed-bid auction: commit a hidden bid with a deposit (bid), reveal it after bidding "
                    "closes (reveal), then settle and withdraw.")
    actions = auction.add_subparsers(dest="auction_command", metavar="ACTION", required=True)

    def common(parser, signed=True):
        node_options(parser)
        parser.add_argument("--auction", help="LastFrameAuction address [CHAOS_AUCTION]")
        if signed:
            key_options(parser, "collector", env=False)

    listing = actions.add_parser("list", help="every auction: frame, phase, windows, bids, result")
    common(listing, signed=False)
    listing.add_argument("--json", action="store_true", help="print JSON")

    bid = actions.add_parser(
        "bid", help="commit a sealed bid during bidding",
        description="Commit keccak256(bid, salt, you) with a deposit of at least the bid (more hides it). The "
                    "salt is drawn here and saved, with the bid, under OUT/auction-secrets/: keep that file, "
                    "it is the only way to reveal.")
    bid.add_argument("auction_id", type=int, metavar="AUCTION")
    bid.add_argument("--eth", required=True, help="the bid, in ETH")
    bid.add_argument("--deposit", help="ETH deposited (default: the bid); more than the bid hides it")
    common(bid)
    store_options(bid)

    reveal = actions.add_parser("reveal", help="reveal a commit during the reveal window")
    reveal.add_argument("auction_id", type=int, metavar="AUCTION")
    reveal.add_argument("index", type=int, metavar="COMMIT", help="the commit index `chaos auction bid` printed")
    reveal.add_argument("--bid-eth", help="the bid, if not read from the saved secrets")
    reveal.add_argument("--salt", help="the salt (0x + 64 hex), if not read from the saved secrets")
    common(reveal)
    store_options(reveal)

    withdraw = actions.add_parser("withdraw", help="withdraw your deposits of settled auctions and holder shares")
    withdraw.add_argument("auction_id", type=int, nargs="?", metavar="AUCTION", help="one auction (default: all)")
    common(withdraw)

    settle = actions.add_parser("settle", help="settle an auction after its reveal window (anyone)")
    settle.add_argument("auction_id", type=int, metavar="AUCTION")
    common(settle)


def _w3(settings):
    from .chain import connect

    return connect(settings.rpc_url, settings.rpc_timeout, settings.chain_id)


def run_oracle(args: argparse.Namespace, settings) -> int:
    from . import oracle as model
    from .telemetry import open_telemetry

    source = open_telemetry(settings.telemetry_replay, settings.gpu_index)
    if settings.telemetry_replay is not None:
        readings = model.replay_tail(source, args.window)
    else:
        if getattr(source, "reading", None) is None:  # a live GPU: the window takes real time
            print(f"sampling the GPU {args.window} times, {args.period} s apart "
                  f"({(args.window - 1) * args.period} s; --period and --window shorten it)", file=sys.stderr)
        readings = model.collect(source, args.window, args.period)
    address = args.oracle or os.environ.get("CHAOS_ORACLE")
    w3 = contract = on_chain = None
    if address or args.post:
        w3 = _w3(settings)
        contract = model.open_oracle(w3, address)
        on_chain = model.read_on_chain(contract)
        now = w3.eth.get_block("latest")["timestamp"]
    else:
        import time

        now = int(time.time())
    forecast = model.forecast(readings, now, max_temperature_c=settings.max_temperature,
                              memory_limit=args.memory_limit, period_s=args.period, window=args.window,
                              horizon_s=args.horizon)
    posted = reason = None
    if args.post:
        from .keys import load_account

        account = load_account(settings.renderer_key, settings.keystore, settings.keystore_password)
        posted, reason = model.post_if_changed(w3, contract, account, forecast)
    if args.json:
        print(json.dumps({**forecast.to_json(), "oracle": contract.address if contract else None,
                          "on_chain": None if on_chain is None else {
                              "expected_at": on_chain.expected_at, "confidence_bps": on_chain.confidence,
                              "posted_at": on_chain.posted_at, "next_post_at": on_chain.next_post_at,
                              "sample_digest": "0x" + on_chain.sample_digest.hex()},
                          "posted_tx": posted, "not_posted_because": reason}, indent=2))
        return 0
    print(model.explain(forecast, on_chain, contract.address if contract else None))
    if args.post:
        print(f"  posted (tx {posted})" if posted else f"  not posted: {reason}")
    return 0


def run_auction(args: argparse.Namespace, settings, collector, wei) -> int:
    from . import auction as market

    w3 = _w3(settings)
    contract = market.open_auction(w3, args.auction)
    command = args.auction_command
    if command == "list":
        views = market.list_auctions(contract)
        if args.json:
            print(json.dumps([v.to_json() for v in views], indent=2))
        else:
            print(f"Last Frame auctions of {contract.address}")
            print(market.format_auctions(views, w3.eth.get_block("latest")["timestamp"]))
        return 0
    account = collector(args, settings)
    if command == "bid":
        deposit = wei(args.deposit) if args.deposit else None
        index, path, tx = market.bid(contract, account, args.auction_id, wei(args.eth), deposit, settings.out_dir)
        print(f"committed a sealed bid to auction {args.auction_id} as commit {index} (tx {tx}); "
              f"bid and salt saved in {path}: reveal with `chaos auction reveal {args.auction_id} {index}`")
    elif command == "reveal":
        if (args.bid_eth is None) != (args.salt is None):
            raise ChaosError("give both --bid-eth and --salt, or neither (then they are read from the saved secrets)")
        if args.salt is not None:
            try:
                salt = bytes.fromhex(args.salt.removeprefix("0x"))
            except ValueError:
                salt = b""
            if len(salt) != 32:
                raise ChaosError(f"--salt {args.salt!r} is not 32 bytes of hex (0x + 64 hex digits)")
            bid_wei = wei(args.bid_eth)
        else:
            bid_wei, salt = market.load_secret(settings.out_dir, contract, args.auction_id, args.index)
        leading, tx = market.reveal(contract, account, args.auction_id, args.index, bid_wei, salt)
        print(f"revealed commit {args.index} of auction {args.auction_id}: {market.format_eth(bid_wei)}, "
              f"{'leading' if leading else 'not leading'} (tx {tx})")
    elif command == "settle":
        owner, price, tx = market.settle(contract, account, args.auction_id)
        sold = (f"sold for {market.format_eth(price)} to {owner}" if price
                else f"no valid bid: frame to the holder {owner}")
        print(f"settled auction {args.auction_id}: {sold} (tx {tx})")
    elif command == "withdraw":
        for what, amount, tx in market.withdraw(contract, account, args.auction_id):
            print(f"withdrew {market.format_eth(amount)}: {what} (tx {tx})")
    return 0

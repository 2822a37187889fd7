"""`chaos`: the Chaos Canvas command line.

Every setting can come from a flag or from its CHAOS_* environment variable
(see `renderer.config`); flags win.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import __version__
from .config import Settings, from_environment
from .errors import ChaosError
from .logs import configure as configure_logging


def _node_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("chain")
    group.add_argument("--rpc-url", help="Ethereum JSON-RPC URL [CHAOS_RPC_URL; default http://127.0.0.1:8545]")
    group.add_argument("--canvas", help="ChaosCanvas contract address [CHAOS_CANVAS]")
    group.add_argument("--chain-id", type=int, help="refuse an RPC node serving another chain [CHAOS_CHAIN_ID]")


def _key_options(parser: argparse.ArgumentParser, whose: str, env: bool) -> None:
    group = parser.add_argument_group(f"{whose} key (one of)")
    suffix = " [CHAOS_RENDERER_KEY]" if env else ""
    group.add_argument("--key", help=f"hex private key of the {whose}{suffix}")
    group.add_argument("--keystore", type=Path, help="encrypted JSON keystore file"
                       + (" [CHAOS_KEYSTORE; password in CHAOS_KEYSTORE_PASSWORD]" if env else
                          " (password from CHAOS_KEYSTORE_PASSWORD or the terminal)"))


def _ipfs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ipfs-api", help="Kubo RPC API multiaddr; several, comma-separated, are replicas that "
                                           "all must pin [CHAOS_IPFS_API; default /ip4/127.0.0.1/tcp/5001/http]")


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="folder of the job store and artefacts [CHAOS_OUT; default out]")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaos",
        description="Chaos Canvas: evolving AI-art NFTs. Contracts mint and mutate; this renderer reads their "
                    "events, renders each generation, pins it to IPFS and commits its CID on-chain.",
        epilog="Start with `chaos demo`. Each command has its own --help.")
    parser.add_argument("--version", action="version", version=f"chaos {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="log lines for people (text) or JSON lines for log pipelines (json)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="run the whole product locally from nothing (Anvil + IPFS)",
                               description="Start Anvil and an IPFS node, deploy with brownie, mint from a "
                                           "collector's wallet, render/pin/commit, transfer (a mutation), "
                                           "re-render, print the history, stop everything. Writes out/demo/.")
    demo.add_argument("--prompt", help="the artwork's prompt")
    demo.add_argument("--serve", action="store_true",
                      help="afterwards keep Anvil, IPFS, the daemon and the gallery running and print the gallery's "
                           "URL; Ctrl-C (or SIGTERM) stops everything")
    _store_options(demo)

    deploy = commands.add_parser("deploy", help="compile and deploy ChaosCanvas and its colour pools with brownie",
                                 description="Compile with brownie and deploy the canvas and its colour pools. "
                                             "Without a key: attach to a local dev node (e.g. Anvil) and deploy "
                                             "from its first unlocked account. With --keystore or --key: deploy to "
                                             "any node (a testnet), signing locally; the chain id is read from "
                                             "the node. Works from any folder.")
    deploy.add_argument("--rpc-url", default="http://127.0.0.1:8545", help="node URL (default %(default)s)")
    _key_options(deploy, "deployer", env=False)
    deploy.add_argument("--renderer", required=True, help="address given RENDERER_ROLE")
    deploy.add_argument("--record", type=Path, default=Path("build/deployments/chaos-local.json"),
                        help="where to write the deployment record (default %(default)s)")
    deploy.add_argument("--mint-price-wei", type=int, help="price of a mint (default 0.01 ether)")
    deploy.add_argument("--max-supply", type=int, help="supply cap (default 10000)")

    daemon = commands.add_parser("daemon", help="run the renderer daemon",
                                 description="Read the canvas's events, render each generation, pin image and "
                                             "metadata to IPFS, commit the metadata CID. Safe to stop and restart.")
    _node_options(daemon)
    _key_options(daemon, "renderer", env=True)
    _ipfs_option(daemon)
    daemon.add_argument("--confirmations", type=int, help="blocks an event must be buried under [CHAOS_CONFIRMATIONS; default 0]")
    daemon.add_argument("--start-block", type=int, help="first block to read, e.g. the deployment block [CHAOS_START_BLOCK]")
    daemon.add_argument("--backend", help="render backend [CHAOS_BACKEND; default noise]")
    daemon.add_argument("--image-size", type=int, help="image width and height [CHAOS_IMAGE_SIZE; default 256]")
    daemon.add_argument("--once", action="store_true", help="do all work that is ready, then exit")
    daemon.add_argument("--pools", help="ColourPools address [CHAOS_POOLS; default: the contract holding the "
                                        "canvas's POOLS_ROLE, if any]")
    daemon.add_argument("--congestion-threshold-wei", type=int,
                        help="block base fee above which a mutation is glitched [CHAOS_CONGESTION_THRESHOLD_WEI; "
                             "default 50000000000 = 50 gwei]")
    daemon.add_argument("--gallery-url", help="public gallery URL: metadata links <url>/#/token/<id> as external_url "
                                              "[CHAOS_GALLERY_URL; default none]")
    gpu = daemon.add_argument_group("diffusion backend and GPU (--backend diffusion)")
    gpu.add_argument("--model-dir", type=Path, help="local Stable-Diffusion-family model folder (diffusers "
                                                    "layout; never downloaded) [CHAOS_MODEL_DIR]")
    gpu.add_argument("--device", help="torch device [CHAOS_DEVICE; default cuda]")
    gpu.add_argument("--steps", type=int, help="denoising steps per image [CHAOS_STEPS; default 30]")
    gpu.add_argument("--telemetry-replay", type=Path,
                     help="replay GPU telemetry from a JSON-lines file instead of NVML [CHAOS_TELEMETRY_REPLAY]")
    gpu.add_argument("--max-temperature", type=int,
                     help="GPU Celsius above which renders are reborn degraded (phoenix) "
                          "[CHAOS_MAX_TEMPERATURE; default 85]")
    farm = daemon.add_argument_group("render workers on Ray (README: Scaling out); none: render in this process")
    farm.add_argument("--workers", type=int, help="start a local Ray with N render actors [CHAOS_WORKERS; default 0]")
    farm.add_argument("--ray-address", help="join the Ray cluster at HOST:PORT instead (its token: "
                                            "RAY_AUTH_TOKEN_PATH) [CHAOS_RAY_ADDRESS]")
    farm.add_argument("--gpu-batch", type=int, help="ready jobs of different tokens per backend call "
                                                    "[CHAOS_GPU_BATCH; default 1]")
    farm.add_argument("--commit-linger", type=float, metavar="S",
                      help="the most seconds a commit that is not full waits for other tokens' renders still on "
                           "workers; none on their way: it goes at once [CHAOS_COMMIT_LINGER; default 3]")
    _store_options(daemon)

    for name, help_text in (("mint", "mint an artwork, signed by the collector's key"),
                            ("transfer", "transfer a token (a mutation), signed by its owner's key")):
        command = commands.add_parser(name, help=help_text, description=help_text + ".")
        _node_options(command)
        _key_options(command, "collector", env=False)
        if name == "mint":
            command.add_argument("prompt", help="what the artwork is of (at most 280 bytes of UTF-8)")
        else:
            command.add_argument("token", type=int, help="token id")
            command.add_argument("to", help="recipient address")

    buy = commands.add_parser(
        "buy", help="buy pigment of a hue for a token (a re-colouring), signed by the buyer's key",
        description="Spend ETH on one hue's pigment in the colour pools, credited to TOKEN (anyone may buy for "
                    "any token). The token's palette moves toward the hue and the daemon re-renders it. The "
                    "trade reverts unless it gets at least the quoted pigment less --slippage-bps.")
    buy.add_argument("token", type=int, help="token id")
    buy.add_argument("hue", type=int, help="hue index: 0 is red; with 12 hues each spans 30 degrees")
    buy.add_argument("--eth", required=True, help="ETH to spend, fee included (e.g. 0.01)")
    buy.add_argument("--slippage-bps", type=int, default=100, help="accepted shortfall from the quote, in basis "
                                                                  "points (default %(default)s = 1%%)")
    buy.add_argument("--pools", help="ColourPools address [CHAOS_POOLS; default: found from the canvas]")
    _node_options(buy)
    _key_options(buy, "buyer", env=False)

    age = commands.add_parser(
        "age", help="write a token's pixel-age map (mutation memory) as a PNG, or probe one pixel's age",
        description="Fetch the age layer of the token's latest committed generation (or --generation) from "
                    "IPFS, through the chain's commits and the metadata, and write it as a greyscale PNG: "
                    "white is paint as old as the token, black was repainted by that generation's mutation. "
                    "With --pixel X,Y, print the carbon-14 probe of that pixel instead: the generation and "
                    "block that last painted it, how many times it was repainted, and the events that did.")
    age.add_argument("token", type=int)
    age.add_argument("--generation", type=int, help="a committed generation (default: the latest)")
    age.add_argument("--pixel", type=_pixel, metavar="X,Y",
                     help="probe one pixel (0,0 is the top-left corner) instead of writing the map")
    age.add_argument("--json", action="store_true", help="with --pixel: print the probe's answer as JSON")
    age.add_argument("--channel", choices=("age", "count"), default="age",
                     help="age: generations since last repainted; count: times mutated (default %(default)s)")
    age.add_argument("--output", type=Path, help="PNG path (default OUT/age/token-N-gen-G.png)")
    _node_options(age)
    _ipfs_option(age)
    _store_options(age)

    history = commands.add_parser(
        "history", help="a token's generations from the chain and IPFS, and its evolution as an animation",
        description="Walk the token's history from the chain and IPFS alone: print each generation (block, owner, "
                    "CIDs, share of pixels changed, palette) and write the evolution as an animated PNG.")
    history.add_argument("token", type=int)
    history.add_argument("--json", action="store_true", help="print JSON instead of the table")
    history.add_argument("--animation", type=Path, help="where to write the APNG (default OUT/history/token-N.png)")
    _node_options(history)
    _ipfs_option(history)
    _store_options(history)

    verify = commands.add_parser(
        "verify", help="check a token's evolution (or every token's), generation by generation, from the chain "
                       "and IPFS alone",
        description="From each commit, walk the metadata's parent links down to the previous commit; check every "
                    "generation on its own: metadata and image against their CIDs and the chain's events, every "
                    "mutation against the mask recomputed from its entropy, the age layer, the colour inputs, and "
                    "a re-render of deterministic generations (decoded pixels and metadata fields, never "
                    "compressed bytes). Each generation is verified, not checkable, FORGED or UNVERIFIABLE; exit "
                    "code 1 names the forged and unverifiable ones and the commit transactions they came from.")
    verify.add_argument("token", type=int, nargs="?", help="token id (or --all)")
    verify.add_argument("--all", action="store_true", help="every token: a progress bar on stderr, then a summary table")
    verify.add_argument("--json", action="store_true", help="print every generation's verdict as JSON")
    verify.add_argument("--no-rerender", action="store_true", help="skip the re-render comparison")
    verify.add_argument("--from-block", type=int, default=0, help="first block to search for events (default 0)")
    _node_options(verify)
    _ipfs_option(verify)

    watch = commands.add_parser(
        "watch", help="a watchtower: verify every commit as it lands; run a hook on a forgery",
        description="Follow the canvas's commit logs (only blocks with --confirmations; a reorg rewinds "
                    "and re-verifies), verify every generation each commit covers as `chaos verify` does, and "
                    "write one JSON line per verdict (stdout, or --out FILE). On a forged generation run "
                    "--on-forgery CMD through the shell, with the verdict as one JSON line on stdin and in CHAOS_* "
                    "variables (CHAOS_STATUS, CHAOS_TOKEN_ID, CHAOS_GENERATION, CHAOS_COMMIT_TX, "
                    "CHAOS_FAILED_CHECKS, CHAOS_VERDICT). The cursor is kept in --state, so a restart resumes.")
    watch.add_argument("--on-forgery", metavar="CMD", help="shell command run once per forged generation")
    watch.add_argument("--out", dest="verdicts_out", type=Path, metavar="FILE",
                       help="append the JSON lines to FILE instead of stdout")
    watch.add_argument("--state", type=Path, metavar="FILE",
                       help="the cursor's SQLite file (default: FILE.state.sqlite beside --out, else "
                            "CHAOS_OUT/watch.sqlite)")
    watch.add_argument("--confirmations", type=int, help="blocks a commit must be buried under [CHAOS_CONFIRMATIONS; "
                                                         "default 0]")
    watch.add_argument("--start-block", type=int, help="first block to watch, e.g. the deployment block "
                                                       "[CHAOS_START_BLOCK]")
    watch.add_argument("--poll", type=float, help="seconds between polls (default 2)")
    watch.add_argument("--once", action="store_true", help="verify what has landed, then exit")
    _node_options(watch)
    _ipfs_option(watch)

    status = commands.add_parser("status", help="the daemon's cursor, jobs per state, pending transactions, "
                                                 "last error")
    _node_options(status)
    _store_options(status)

    pins = commands.add_parser("pins", help="pin durability: `chaos pins audit`")
    pin_commands = pins.add_subparsers(dest="pins_command", metavar="PINS_COMMAND", required=True)
    audit = pin_commands.add_parser(
        "audit", help="check every committed CID is pinned on every endpoint; re-pin what is missing",
        description="For every token, every metadata CID the canvas ever committed and the image it names must "
                    "be pinned on every --ipfs-api endpoint. Missing pins are restored from the artefact store or "
                    "another endpoint. Exit code 1 if anything could not be restored.")
    _node_options(audit)
    _ipfs_option(audit)
    _store_options(audit)
    audit.add_argument("--dry-run", action="store_true", help="report only, pin nothing")

    pools = commands.add_parser(
        "pools", help="the colour pools: each hue's reserves, price, crash state and rebase index",
        description="Read every hue's pool from the ColourPools contract (--pools, CHAOS_POOLS, or the contract "
                    "holding the canvas's POOLS_ROLE) and print reserves, marginal price, crash state (a hue is "
                    "CRASHED while its pigment reserve is under the floor; overused while it rebases) and the "
                    "rebase index (what a holder's pigment of the hue is still worth).")
    pools.add_argument("--pools", help="ColourPools address [CHAOS_POOLS; default: found from the canvas]")
    pools.add_argument("--json", action="store_true", help="print JSON (wei and pigment units as strings)")
    _node_options(pools)

    gallery = commands.add_parser(
        "gallery", help="serve a read-only web gallery of the canvas (127.0.0.1:8000)",
        description="A web page over the chain and IPFS alone: a grid of tokens; per token a timeline scrubber "
                    "across generations, the pixel-age map, the palette and the colour pools' prices over time; "
                    "a mint form that uses the browser's wallet (EIP-1193) when there is one. Read-only: it "
                    "serves GET only and fetches only the CIDs the canvas's tokens name.")
    gallery.add_argument("--host", default="127.0.0.1",
                         help="address to listen on (default %(default)s; anything else is reachable by others)")
    gallery.add_argument("--port", type=int, default=8000, help="port (default %(default)s; 0 picks a free one)")
    gallery.add_argument("--pools", help="ColourPools address [CHAOS_POOLS; default: found from the canvas]")
    gallery.add_argument("--start-block", type=int, help="first block to search for events [CHAOS_START_BLOCK]")
    _node_options(gallery)
    _ipfs_option(gallery)

    from .phoenix_cli import add_parsers as add_phoenix_parsers

    add_phoenix_parsers(commands, _node_options, _key_options, _store_options)

    from .observer_cli import add_parsers as add_observer_parsers

    add_observer_parsers(commands, _node_options, _key_options, _store_options)

    bench = commands.add_parser("bench", help="benchmarks that print figures")
    bench_commands = bench.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    load = bench_commands.add_parser(
        "load", help="mints and transfers as fast as Anvil takes them; the daemon drains them",
        description="Start Anvil and IPFS, deploy, send MINTS mints and TRANSFERS transfers, let the daemon "
                    "(CPU backend) drain them, once per --workers count; print events/s, latency p50/p95 (event "
                    "sent -> its job settled), CPU ms per event per stage, and gas per event with and without "
                    "batching.")
    load.add_argument("--mints", type=int, default=200)
    load.add_argument("--transfers", type=int, default=1000)
    load.add_argument("--unbatched-sample", type=int, default=20,
                      help="renders committed one per transaction to measure unbatched gas (default 20)")
    load.add_argument("--image-size", type=int, default=256)
    load.add_argument("--workers", type=_counts, default=[0], metavar="LIST",
                      help="worker counts to compare, e.g. 0,1,2 (0: render in the daemon's process; N: N Ray "
                           "render actors); one line each, then `drain:` for the best (default 0)")
    _store_options(load)
    bench_commands.add_parser(
        "gas", help="gas of the canvas and the colour pools, beside a Uniswap v2 swap",
        description="Run brownie's scripts/gas.py (mint, transfer, commit, a 10-token batch commit) and "
                    "scripts/gas_amm.py (buy, sell, and a Uniswap v2 pair.swap from npm @uniswap/v2-core's "
                    "build artifacts in the same Anvil run), each on a throwaway Anvil that brownie starts on a "
                    "free port (a node already on 8545 is left alone). The last line is "
                    "`buy/uniswap-v2-swap gas ratio: R`.")
    gpu = bench_commands.add_parser(
        "gpu", help="Stable Diffusion 1.5's architecture on the GPU: images/s, s/step, memory, FLOP/s",
        description="Render with SD 1.5's UNet, VAE and text encoder (random weights: the cost does not depend on "
                    "their values) at 512x512 for 1, 4 and 20 steps and batches of 1, 4 and 8 pictures per pipeline "
                    "call (as `chaos daemon --gpu-batch`) through the diffusion backend; report images/s, the "
                    "batch speed-up, time per step, peak GPU memory and achieved FLOP/s against the GPU's measured "
                    "peak. Needs CUDA (without it: says so, measures nothing, exit 2); `--device cpu --tiny` is a "
                    "seconds-long smoke run.")
    from .devtools.bench_gpu import add_arguments as add_gpu_bench_arguments

    add_gpu_bench_arguments(gpu)
    return parser


def _pixel(text: str) -> tuple[int, int]:
    from .probe import parse_pixel

    try:
        return parse_pixel(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _counts(text: str) -> list[int]:
    """A comma-separated list of worker counts: `0,1,2`."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or any(count < 0 for count in counts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of worker counts such as 0,1,2")
    return counts


def _settings(args: argparse.Namespace) -> Settings:
    return from_environment().with_overrides(
        rpc_url=getattr(args, "rpc_url", None), canvas=getattr(args, "canvas", None),
        renderer_key=getattr(args, "key", None), keystore=getattr(args, "keystore", None),
        ipfs_api=getattr(args, "ipfs_api", None), confirmations=getattr(args, "confirmations", None),
        chain_id=getattr(args, "chain_id", None),
        start_block=getattr(args, "start_block", None), out_dir=getattr(args, "out", None),
        backend=getattr(args, "backend", None), image_size=getattr(args, "image_size", None),
        pools=getattr(args, "pools", None), model_dir=getattr(args, "model_dir", None),
        # `chaos bench gpu` has --device and --steps of its own (a list of step counts): not settings.
        device=getattr(args, "device", None) if args.command == "daemon" else None,
        steps=getattr(args, "steps", None) if args.command == "daemon" else None,
        telemetry_replay=getattr(args, "telemetry_replay", None),
        max_temperature=getattr(args, "max_temperature", None),
        # `chaos bench load --workers` is a list of counts to compare: not a setting.
        workers=getattr(args, "workers", None) if args.command == "daemon" else None,
        ray_address=getattr(args, "ray_address", None),
        congestion_threshold_wei=getattr(args, "congestion_threshold_wei", None),
        gallery_url=getattr(args, "gallery_url", None),
        gpu_batch=getattr(args, "gpu_batch", None) if args.command == "daemon" else None,
        commit_linger=getattr(args, "commit_linger", None))


def _canvas(settings: Settings):
    from .chain import Canvas, connect

    return Canvas(connect(settings.rpc_url, settings.rpc_timeout, settings.chain_id), settings.canvas)


def _required_pools(canvas, settings: Settings):
    """The canvas's ColourPools contract (--pools, or found from the canvas), or a clear error."""
    from .pools import open_pools

    contract = open_pools(canvas, settings.pools)
    if contract is None:
        raise ChaosError(f"the canvas {canvas.address} has no colour pools (no contract holds its POOLS_ROLE); "
                         "give --pools ADDRESS")
    return contract


def _open_store(settings: Settings):
    from .store import JobStore

    canvas = _canvas(settings)
    return canvas, JobStore(settings.db_path, canvas.chain_id, canvas.address, settings.start_block)


def _collector(args: argparse.Namespace, settings: Settings):
    from .keys import load_account

    if not (args.key or args.keystore):
        raise ChaosError("give the collector's key: --key HEX or --keystore FILE")
    return load_account(args.key, args.keystore, settings.keystore_password)


def _wei(eth: str) -> int:
    from decimal import Decimal, InvalidOperation

    try:
        wei = Decimal(eth) * 10**18
    except InvalidOperation:
        raise ChaosError(f"--eth {eth!r} is not a number of ETH, e.g. 0.01") from None
    if wei != wei.to_integral_value() or wei <= 0:
        raise ChaosError(f"--eth {eth!r} must be a positive amount of ETH with at most 18 decimals")
    return int(wei)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from .ipfs import Replicas
    from .verdicts import (ProgressBar, failing, format_collection, format_token, name_failures,
                           verify_collection, verify_one)

    if args.all == (args.token is not None):
        raise ChaosError("give one token id, or --all for every token")
    canvas = _canvas(settings)
    ipfs = Replicas(settings.ipfs_api, settings.ipfs_timeout)
    rerender = not args.no_rerender
    try:
        if args.all:
            total = canvas.contract.functions.totalMinted().call()
            started = time.perf_counter()
            results = verify_collection(canvas, ipfs, args.from_block, rerender, progress=ProgressBar(total))
            print(f"verified {total} token(s), {sum(map(len, results.values()))} generation(s) in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
        else:
            results = {args.token: verify_one(canvas, ipfs, args.token, args.from_block, rerender)}
    except LookupError as exc:
        raise ChaosError(str(exc)) from None
    finally:
        ipfs.close()
    verdicts = [v for token_verdicts in results.values() for v in token_verdicts]
    if args.json:
        print(json.dumps([v.to_dict() for v in verdicts], indent=2))
    elif args.all:
        print(format_collection(results))
    else:
        print(format_token(args.token, verdicts))
    for line in name_failures(verdicts):
        print(line, file=sys.stderr)
    return 1 if failing(verdicts) else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, args.log_format)
    try:
        return _dispatch(args)
    except ChaosError as exc:
        print(f"chaos {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.command == "demo":
        from .devtools.demo import DEFAULT_PROMPT, run_demo

        run_demo(settings.out_dir, args.prompt or DEFAULT_PROMPT, serve=args.serve)
    elif args.command == "deploy":
        from .deploy import deploy

        params = {k: v for k, v in (("mint_price", args.mint_price_wei), ("max_supply", args.max_supply)) if v}
        record = deploy(args.rpc_url, args.renderer, args.record, keystore=args.keystore, private_key=args.key,
                        **params)
        print(json.dumps(record, indent=2))
    elif args.command == "daemon":
        from .daemon import open_daemon
        from .keys import load_account

        account = load_account(settings.renderer_key, settings.keystore, settings.keystore_password)
        daemon = open_daemon(settings, account)
        logging.getLogger("chaos").info("renderer %s on canvas %s (chain %d), reading from block %d",
                                        account.address, daemon.canvas.address, daemon.canvas.chain_id,
                                        daemon.store.next_block)
        try:
            if args.once:
                daemon.drain()
            else:
                daemon.run(poll_interval=settings.poll_interval)
        finally:
            daemon.close()
    elif args.command in ("mint", "transfer"):
        from . import wallet

        canvas = _canvas(settings)
        account = _collector(args, settings)
        if args.command == "mint":
            token_id, tx = wallet.mint(canvas, account, args.prompt)
            print(f"minted token {token_id} (tx {tx})")
        else:
            print(f"transferred token {args.token} to {args.to} (tx {wallet.transfer(canvas, account, args.token, args.to)})")
    elif args.command == "buy":
        from . import wallet

        canvas = _canvas(settings)
        pools = _required_pools(canvas, settings)
        account = _collector(args, settings)
        pigment, tx = wallet.buy_colour(canvas, pools, account, args.token, args.hue, _wei(args.eth),
                                        slippage_bps=args.slippage_bps)
        print(f"bought {pigment / 10**18:,.4f} pigment of hue {args.hue} for token {args.token} (tx {tx})")
    elif args.command == "age" and args.pixel is not None:
        from .age import probe_pixel

        answer = probe_pixel(settings, args.token, *args.pixel, generation=args.generation)
        print(json.dumps(answer.to_dict(), indent=2) if args.json else answer.to_text())
    elif args.command == "age":
        from .age import write_token_age_map

        if args.json:
            raise ChaosError("--json goes with --pixel X,Y (the map itself is a PNG)")
        path = write_token_age_map(settings, args.token, args.generation, args.channel, args.output)
        print(f"pixel-age map written to {path}")
    elif args.command == "verify":
        return _verify(args, settings)
    elif args.command == "watch":
        from .watch import run_watch

        if args.poll is not None:
            if args.poll <= 0:
                raise ChaosError(f"--poll must be a positive number of seconds, not {args.poll}")
            settings = settings.with_overrides(poll_interval=args.poll)
        state = args.state or (args.verdicts_out.with_name(args.verdicts_out.name + ".state.sqlite")
                               if args.verdicts_out else settings.out_dir / "watch.sqlite")
        run_watch(settings, state_path=state, output_path=args.verdicts_out, on_forgery=args.on_forgery,
                  once=args.once)
    elif args.command == "history":
        from .ipfs import Replicas
        from .provenance import load_history

        canvas = _canvas(settings)
        ipfs = Replicas(settings.ipfs_api, settings.ipfs_timeout)
        try:
            history = load_history(canvas, ipfs, args.token, getattr(args, "from_block", 0))
        except LookupError as exc:
            raise ChaosError(str(exc)) from None
        from .history import chain_history_rows, format_chain_history, write_evolution

        rows = chain_history_rows(history)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print(format_chain_history(args.token, rows))
        animation = write_evolution(history, args.animation or settings.out_dir / "history" / f"token-{args.token}.png")
        if animation and not args.json:
            print(f"evolution written to {animation}")
    elif args.command == "status":
        canvas, store = _open_store(settings)
        print(json.dumps({"canvas": canvas.address, "chain_id": canvas.chain_id, "head": canvas.head(),
                          "next_block": store.next_block, "jobs": store.counts(),
                          "pending_transactions": store.pending_transactions(),
                          "last_error": store.last_error()}, indent=2))
    elif args.command == "pins":
        from .audit import audit_pins
        from .ipfs import Replicas

        canvas, store = _open_store(settings)
        report = audit_pins(canvas, store, Replicas(settings.ipfs_api, settings.ipfs_timeout),
                            repair=not args.dry_run, progress=print)
        print(f"checked {report.checked} pin(s): {len(report.missing)} missing, {len(report.repaired)} re-pinned, "
              f"{len(report.unrecoverable)} unrecoverable")
        return 0 if (report.healthy if not args.dry_run else not report.missing) else 1
    elif args.command == "pools":
        from .pools import format_pools, read_pool_state

        canvas = _canvas(settings)
        contract = _required_pools(canvas, settings)
        states = read_pool_state(contract)
        if args.json:
            print(json.dumps({"pools": contract.address, "hues": [
                {"hue": s.hue, "degrees": list(s.degrees), "eth_reserve_wei": str(s.eth_reserve),
                 "pigment_reserve": str(s.pigment_reserve), "price_wei_per_pigment": str(s.price),
                 "crashed": s.crashed, "overused": s.overused, "rebase_index": s.rebase_index,
                 "next_rebase_at": s.next_rebase_at} for s in states]}, indent=2))
        else:
            print(f"colour pools {contract.address} of canvas {canvas.address}")
            print(format_pools(states))
    elif args.command == "gallery":
        from .gallery.server import run_gallery

        run_gallery(settings, args.host, args.port, settings.pools)
    elif args.command in ("observe", "seal", "reveal"):
        from .observer_cli import run as run_observer

        return run_observer(args, settings, _canvas, _collector)
    elif args.command == "oracle":
        from .phoenix_cli import run_oracle

        return run_oracle(args, settings)
    elif args.command == "auction":
        from .phoenix_cli import run_auction

        return run_auction(args, settings, _collector, _wei)
    elif args.command == "bench" and args.bench_command == "gas":
        # Child processes (brownie keeps global state), each with its own Anvil on a free port: plain
        # `brownie run` would attach to a node already on 8545, the renderer's default RPC URL.
        from .devtools.bench_gas import run_gas_bench

        run_gas_bench()
    elif args.command == "bench" and args.bench_command == "gpu":
        from .devtools.bench_gpu import bench as bench_gpu

        return bench_gpu(args, prog="chaos bench gpu")
    elif args.command == "bench":
        from .devtools.bench_load import run_load_bench

        run_load_bench(settings.out_dir, mints=args.mints, transfers=args.transfers,
                       unbatched_sample=args.unbatched_sample, image_size=args.image_size, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

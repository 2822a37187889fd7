"""`chaos demo`: the whole product on one machine, from nothing, on embedded defaults.

Starts Anvil and an IPFS node, deploys with brownie, mints from a collector's
wallet, lets the daemon render, pin and commit, transfers the token (a
mutation), waits for the re-render, buys a hue of pigment for the token from the colour
pools (a re-colouring), waits for that render, prints the history, stops everything and
leaves its artefacts and `summary.json` under `out/demo/`.

With `serve` (`chaos demo --serve`) the gallery starts beside the nodes, the demo's metadata
links to it (external_url), and after the demo everything keeps running, the daemon included
(new mints and transfers are rendered), until Ctrl-C (SIGINT) or SIGTERM stops it all.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import subprocess
import sys
import time
from pathlib import Path

from eth_account import Account

from .. import wallet
from ..chain import Canvas, connect
from ..config import Settings
from ..daemon import open_daemon
from ..errors import SetupError
from ..history import format_history, token_history
from ..project import PROJECT_ROOT
from .nodes import AnvilNode, IpfsNode
from ..pools import format_pools, read_pool_state

#: Private keys of Anvil's default dev accounts 1-3 (mnemonic "test test ... junk").
#: Public knowledge, funded only on local dev chains: never use them elsewhere.
ANVIL_KEYS = {
    "renderer": "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "collector": "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "second_collector": "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
}
DEFAULT_PROMPT = "a lighthouse made of weather, slowly forgetting the sea"
#: The demo's colour purchase: hue 7 of 12 (210-240 degrees, blues) for 0.05 ETH.
DEMO_HUE, DEMO_PIGMENT_WEI = 7, 5 * 10**16


class Progress:
    def __init__(self, stream=sys.stdout):
        self.started = time.monotonic()
        self.stream = stream

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", file=self.stream, flush=True)


def run_deploy(rpc_url: str, renderer: str, record: Path) -> dict:
    """`chaos deploy` in a child process: brownie keeps global state, so keep it out of this one."""
    command = [sys.executable, "-m", "renderer.cli", "deploy", "--rpc-url", rpc_url, "--renderer", renderer,
               "--record", str(record)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupError(f"deployment failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(record.read_text())


#: The line `chaos demo --serve` prints once everything is up (tests and scripts wait for it).
SERVING = "serving the gallery at "


class _StopSignals:
    """SIGINT and SIGTERM set an event instead of killing the process, so the nodes are stopped
    by their context managers; the previous handlers come back on exit."""

    def __init__(self):
        self.stop = threading.Event()
        self._previous = {}

    def __enter__(self) -> threading.Event:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, lambda number, frame: self.stop.set())
        return self.stop

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def run_demo(out_root: Path = Path("out"), prompt: str = DEFAULT_PROMPT, progress: Progress | None = None,
             serve: bool = False) -> dict:
    progress = progress or Progress()
    out = (out_root / "demo").resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    renderer, collector, second = (Account.from_key(ANVIL_KEYS[k])
                                   for k in ("renderer", "collector", "second_collector"))

    progress("starting Anvil and an IPFS node")
    with AnvilNode(out / "nodes") as anvil, IpfsNode(out / "nodes" / "ipfs") as ipfs:
        progress(f"Anvil at {anvil.url}; IPFS API at {ipfs.api_multiaddr}")
        progress("compiling and deploying ChaosCanvas with brownie")
        record = run_deploy(anvil.url, renderer.address, out / "deployment.json")
        progress(f"ChaosCanvas at {record['canvas']} (chain {record['chain_id']}); "
                 f"ColourPools at {record['pools']}")

        canvas = Canvas(connect(anvil.url), record["canvas"])
        gallery = None
        if serve:
            from ..gallery.server import serve_gallery
            from ..ipfs import Replicas

            gallery = serve_gallery(canvas, Replicas(ipfs.api_multiaddr), port=0, from_block=record["block"] or 0)
        token_id, tx = wallet.mint(canvas, collector, prompt)
        progress(f"collector {collector.address} minted token {token_id} (tx {tx}): {prompt!r}")

        settings = Settings(rpc_url=anvil.url, canvas=record["canvas"], ipfs_api=ipfs.api_multiaddr,
                            out_dir=out / "renderer", start_block=record["block"] or 0, poll_interval=0.2,
                            gallery_url=gallery.url if gallery else None)
        daemon = open_daemon(settings, renderer)

        def committed(generation: int):
            return lambda: (job := daemon.store.job(token_id, generation)) is not None and job.state == "committed"

        progress("renderer daemon: render -> pin -> commit generation 0")
        daemon.run(until=committed(0), poll_interval=settings.poll_interval, timeout=300)
        progress(f"tokenURI is now {canvas.token_uri(token_id)}")

        tx = wallet.transfer(canvas, collector, token_id, second.address)
        progress(f"transferred token {token_id} to {second.address} (tx {tx}): a mutation")
        daemon.run(until=committed(1), poll_interval=settings.poll_interval, timeout=300)
        progress(f"tokenURI is now {canvas.token_uri(token_id)}")

        pigment, tx = wallet.buy_colour(canvas, daemon.pools, second, token_id, DEMO_HUE, DEMO_PIGMENT_WEI)
        progress(f"{second.address} bought {pigment / 10**18:,.2f} pigment of hue {DEMO_HUE} for token "
                 f"{token_id} with {DEMO_PIGMENT_WEI / 10**18} ETH (tx {tx}): a re-colouring")
        daemon.run(until=committed(2), poll_interval=settings.poll_interval, timeout=300)
        progress(f"tokenURI is now {canvas.token_uri(token_id)}")
        print(format_pools(read_pool_state(daemon.pools)), flush=True)

        owner = canvas.owner_of(token_id)
        generations = token_history(daemon.store, token_id)
        print(format_history(token_id, owner, generations), flush=True)
        summary = {"chain_id": canvas.chain_id, "canvas": canvas.address,
                   "tokens": [{"id": token_id, "owner": owner,
                               "generations": [g.as_summary(PROJECT_ROOT) for g in generations]}]}
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        progress(f"summary written to {out / 'summary.json'}")
        if gallery is not None:
            _serve(gallery, daemon, anvil, ipfs, settings, progress)
        daemon.close()
        progress("stopping Anvil and IPFS")
    return summary


def _serve(gallery, daemon, anvil, ipfs, settings: Settings, progress: Progress) -> None:
    """Keep the gallery, the daemon and the nodes up until SIGINT or SIGTERM."""
    with _StopSignals() as stop:
        progress(f"Anvil at {anvil.url} (pid {anvil.process.pid}), IPFS API at {ipfs.api_url} "
                 f"(pid {ipfs.process.pid}), canvas {settings.canvas}")
        print(f"{SERVING}{gallery.url}/  (Ctrl-C stops the gallery, the daemon, Anvil and IPFS)", flush=True)
        try:
            daemon.run(until=stop.is_set, poll_interval=settings.poll_interval)
        finally:
            progress("stopping the gallery and the daemon")
            gallery.close()

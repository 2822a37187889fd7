"""`chaos bench load`: how fast the daemon drains a burst of mints and transfers, per worker count.

For each worker count (0: render in the daemon's process; N: N Ray render
actors on a local Ray) it starts its own Anvil and IPFS node, deploys, then
sends MINTS mints and TRANSFERS transfers from many funded wallets as fast as
Anvil accepts them (signed locally, explicit nonces, no waiting), while the
daemon (CPU backend) runs beside them. Per count it prints events/s, end-to-end
latency p50/p95 (from sending the event's transaction, which Anvil mines at
once, to the daemon settling its job: committed, or covered by a newer
generation's commit) and CPU milliseconds per event per stage (thread CPU time,
which other load on the machine distorts less than wall time). The first run
also measures gas per event with and without batching. The last line is
`drain: N events/s, p95 latency S s (W workers)` for the best count.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import psutil
from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3

from .chain import Canvas, connect
from .config import Settings
from .daemon import open_daemon
from .demo import ANVIL_KEYS, Progress, run_deploy
from .memory import AgeLayer
from .nodes import AnvilNode, IpfsNode
from .pipeline.artefacts import age_path
from .pipeline.clock import StageClock
from .png import decode_png, encode_png

SENDERS = 16
MINT_GAS, TRANSFER_GAS = 250_000, 150_000
GWEI = 10**9
#: Renders re-encoded after a run to price PNG and age-layer encoding on their own.
ENCODE_SAMPLE = 40


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class _Sender:
    """A funded wallet that signs and sends without waiting, counting its own nonces."""

    def __init__(self, w3: Web3, index: int):
        self.w3 = w3
        self.account = Account.from_key(keccak(f"chaos-bench-{index}".encode()))
        w3.provider.make_request("anvil_setBalance", [self.account.address, hex(10**24)])
        self.nonce = w3.eth.get_transaction_count(self.account.address)

    def send(self, call, gas: int, value: int = 0) -> str:
        tx = call.build_transaction({"from": self.account.address, "nonce": self.nonce, "gas": gas, "value": value,
                                     "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI,
                                     "chainId": 31337})
        self.nonce += 1
        return self.w3.eth.send_raw_transaction(self.account.sign_transaction(tx).raw_transaction).to_0x_hex()


def _process_cpu(process) -> float:
    """CPU seconds of a node process and its children (js-ipfs runs under a node.js launcher)."""
    try:
        root = psutil.Process(process.pid)
        total = 0.0
        for p in [root, *root.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


def _encoding_ms(store) -> dict[str, float]:
    """PNG and age-layer encoding, timed alone on a sample of this run's renders (ms per render)."""
    rows = store.db.execute("SELECT image_path FROM jobs WHERE image_path IS NOT NULL LIMIT ?",
                            (ENCODE_SAMPLE,)).fetchall()
    images = [decode_png(Path(path).read_bytes()) for (path,) in rows]
    layers = [AgeLayer.decode(age_path(path).read_bytes()) for (path,) in rows if age_path(path).exists()]
    started = time.thread_time()
    for image in images:
        encode_png(image)
    png = time.thread_time() - started
    started = time.thread_time()
    for layer in layers:
        layer.encode()
    age = time.thread_time() - started
    return {"PNG encoding (in render)": 1000 * png / max(1, len(images)),
            "age-layer encoding (in render)": 1000 * age / max(1, len(layers))}


def _one_run(out: Path, *, mints: int, transfers: int, unbatched_sample: int, image_size: int, workers: int,
             progress: Progress) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    renderer = Account.from_key(ANVIL_KEYS["renderer"])
    total = mints + transfers
    with AnvilNode(out / "nodes") as anvil, IpfsNode(out / "nodes" / "ipfs") as ipfs:
        record = run_deploy(anvil.url, renderer.address, out / "deployment.json")
        w3 = connect(anvil.url)
        canvas = Canvas(w3, record["canvas"])
        functions = canvas.contract.functions
        price = functions.mintPrice().call()
        senders = [_Sender(w3, i) for i in range(SENDERS)]
        settings = Settings(rpc_url=anvil.url, canvas=record["canvas"], ipfs_api=ipfs.api_multiaddr,
                            out_dir=out / "renderer", start_block=record["block"], image_size=image_size,
                            poll_interval=0.05, batch_size=50, workers=workers)
        daemon = open_daemon(settings, renderer)
        try:
            clock = StageClock()
            daemon.measure_with(clock)
            sent_at: dict[str, float] = {}
            load_done = threading.Event()

            def drained() -> bool:
                counts = daemon.store.counts()
                return load_done.is_set() and counts["committed"] + counts["covered"] == total

            progress(f"{workers} worker(s): sending {mints} mints and {transfers} transfers from {SENDERS} wallets")
            failure: list[BaseException] = []

            def drain() -> None:
                try:
                    daemon.run(until=drained, poll_interval=0.05, timeout=3600)
                except BaseException as exc:  # surfaced in the main thread below
                    failure.append(exc)

            nodes_cpu = {"anvil": _process_cpu(anvil.process), "IPFS node": _process_cpu(ipfs.process)}
            thread = threading.Thread(target=drain, daemon=True)
            started = time.monotonic()
            thread.start()
            owners: dict[int, _Sender] = {}
            first_id = functions.totalMinted().call() + 1
            for i in range(mints):
                sender = senders[i % SENDERS]
                sent_at[sender.send(functions.mint(f"load test piece {i}"), MINT_GAS, price)] = time.time()
                owners[first_id + i] = sender
            for i in range(transfers):
                token_id = first_id + i % mints
                owner = owners[token_id]
                receiver = senders[(senders.index(owner) + 1) % SENDERS]
                call = functions.transferFrom(owner.account.address, receiver.account.address, token_id)
                sent_at[owner.send(call, TRANSFER_GAS)] = time.time()
                owners[token_id] = receiver
            send_seconds = time.monotonic() - started
            load_done.set()
            progress(f"sent {total} transactions in {send_seconds:.1f} s ({total / send_seconds:.0f} tx/s); draining")
            thread.join()
            if failure:
                raise failure[0]
            drain_seconds = time.monotonic() - started
            nodes_cpu = {name: _process_cpu(node.process) - nodes_cpu[name]
                         for name, node in (("anvil", anvil), ("IPFS node", ipfs))}

            rows = daemon.store.db.execute("SELECT event, updated_at, state, commit_tx FROM jobs "
                                           "WHERE state IN ('committed', 'covered')").fetchall()
            latencies = [updated - sent_at[json.loads(event)["tx_hash"]] for event, updated, _, _ in rows]
            commit_txs = {tx for _, _, state, tx in rows if state == "committed"}
            batched_gas = sum(w3.eth.get_transaction_receipt(tx)["gasUsed"] for tx in commit_txs)
            events = len(rows)
            committed = sum(1 for row in rows if row[2] == "committed")
            cpu_ms = {label: 1000 * seconds / events for label, seconds in sorted(clock.cpu.items())}
            cpu_ms.update({f"{name} process": 1000 * seconds / events for name, seconds in nodes_cpu.items()})
            cpu_ms.update(_encoding_ms(daemon.store))
            result = {
                "workers": workers, "events": events, "seconds": drain_seconds,
                "events_per_second": events / drain_seconds, "latency_p50_s": _percentile(latencies, 0.50),
                "latency_p95_s": _percentile(latencies, 0.95), "commit_transactions": len(commit_txs),
                "committed_renders": committed, "covered_renders": events - committed,
                "gas_per_render_batched": batched_gas / events, "image_size": image_size, "cpu_ms_per_event": cpu_ms,
            }
            if unbatched_sample:
                result["gas_per_render_unbatched"] = _unbatched_gas(daemon, w3, functions, senders, owners, price,
                                                                    mints, transfers, unbatched_sample, progress)
        finally:
            daemon.close()
    return result


def _unbatched_gas(daemon, w3, functions, senders, owners, price, mints, transfers, sample, progress) -> float:
    """Gas per event when every commit carries one token (the same mint/transfer mix)."""
    progress(f"measuring commits of one token per transaction on {sample} more events")
    daemon.committer.batch_size = 1
    before = {row[0] for row in daemon.store.db.execute("SELECT DISTINCT commit_tx FROM jobs")}
    sample_mints = max(1, sample * mints // (mints + transfers))
    first_new = functions.totalMinted().call() + 1
    wanted = []
    for i in range(sample_mints):
        senders[i % SENDERS].send(functions.mint(f"unbatched {i}"), MINT_GAS, price)
        owners[first_new + i] = senders[i % SENDERS]
        wanted.append((first_new + i, 0))
    for i in range(sample - sample_mints):
        token_id = first_new + i % sample_mints
        owner, receiver = owners[token_id], senders[(senders.index(owners[token_id]) + 1) % SENDERS]
        owner.send(functions.transferFrom(owner.account.address, receiver.account.address, token_id), TRANSFER_GAS)
        owners[token_id] = receiver
        wanted.append((token_id, sum(1 for t, _ in wanted if t == token_id)))
    daemon.run(until=lambda: all((j := daemon.store.job(*key)) and j.state in ("committed", "covered")
                                 for key in wanted), poll_interval=0.05, timeout=600)
    single_txs = {daemon.store.job(*key).commit_tx for key in wanted} - before - {None}
    return sum(w3.eth.get_transaction_receipt(tx)["gasUsed"] for tx in single_txs) / sample


def _cpu_line(cpu_ms: dict[str, float]) -> str:
    own = {k: v for k, v in cpu_ms.items() if not k.endswith("process") and "(in render)" not in k}
    parts = [f"{label} {ms:.1f}" for label, ms in sorted(own.items(), key=lambda item: -item[1])]
    parts.append(f"total {sum(own.values()):.1f}")
    extra = [f"{label} {ms:.1f}" for label, ms in cpu_ms.items() if label not in own]
    return "; ".join(parts) + " | " + "; ".join(extra)


def run_load_bench(out_root: Path, mints: int = 200, transfers: int = 1000, unbatched_sample: int = 20,
                   image_size: int = 256, workers: list[int] | tuple[int, ...] = (0,)) -> dict:
    """Run the load once per worker count; returns the best run's figures (all runs under "runs")."""
    if not workers or any(w < 0 for w in workers):
        raise ValueError(f"--workers takes counts of 0 or more, e.g. 0,1,2; not {workers}")
    progress = Progress()
    root = (out_root / "bench-load").resolve()
    runs = []
    for index, count in enumerate(workers):
        runs.append(_one_run(root / f"workers-{count}", mints=mints, transfers=transfers,
                             unbatched_sample=unbatched_sample if index == 0 else 0, image_size=image_size,
                             workers=count, progress=progress))
    first = runs[0]
    print(f"events drained: {first['events']} per run ({mints} mints, {transfers} transfers, {image_size} px, "
          "CPU backend)")
    print(f"commits: {first['commit_transactions']} transactions carried {first['committed_renders']} renders; "
          f"{first['covered_renders']} older generations were covered by them (coalescing)")
    if "gas_per_render_unbatched" in first:
        print(f"gas per event: {first['gas_per_render_batched']:,.0f} batched and coalesced, "
              f"{first['gas_per_render_unbatched']:,.0f} with one token per transaction")
    for run in runs:
        print(f"workers {run['workers']}: {run['events_per_second']:.1f} events/s, latency p50 "
              f"{run['latency_p50_s']:.2f} s, p95 {run['latency_p95_s']:.2f} s")
        print(f"  CPU ms per event: {_cpu_line(run['cpu_ms_per_event'])}")
    best = max(runs, key=lambda run: run["events_per_second"])
    print(f"drain: {best['events_per_second']:.1f} events/s, p95 latency {best['latency_p95_s']:.2f} s "
          f"({best['workers']} workers)")
    return {**best, **{k: v for k, v in first.items() if k == "gas_per_render_unbatched"}, "runs": runs}

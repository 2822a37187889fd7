"""`chaos bench load`: how fast the daemon drains a burst of mints and transfers, per worker count.

For each worker count (0: render in the daemon's process; N: N Ray render
actors on a local Ray) it starts its own Anvil and IPFS node, deploys, signs
MINTS mints and TRANSFERS transfers from many funded wallets (explicit nonces,
token ids known in advance), then, once the clock starts, sends them raw from
a process of their own (renderer.devtools.bench_sender) as fast as Anvil accepts them,
while the daemon (CPU backend) drains them in this process. The load therefore
takes neither the daemon's CPU nor its interpreter lock, and its own CPU is
reported as "load sender process". Per count it prints events/s, end-to-end
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
import subprocess
import sys
import time
from pathlib import Path

import psutil
from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3

from ..chain import Canvas, connect
from ..config import Settings
from ..daemon import open_daemon
from .demo import ANVIL_KEYS, Progress, run_deploy
from ..memory import AgeLayer
from ..project import PROJECT_ROOT
from .nodes import AnvilNode, IpfsNode
from ..pipeline.artefacts import age_path
from ..pipeline.clock import StageClock
from ..png import decode_png, encode_png

SENDERS = 16
MINT_GAS, TRANSFER_GAS = 250_000, 150_000
GWEI = 10**9
#: How often the daemon polls Anvil for new blocks (seconds): the whole load is on-chain within
#: seconds, so polling faster only adds RPC round trips to the coordinator's CPU.
POLL_INTERVAL = 0.2
#: Renders re-encoded after a run to price PNG and age-layer encoding on their own.
ENCODE_SAMPLE = 40


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class _Sender:
    """A funded wallet that signs with explicit nonces, counting its own."""

    def __init__(self, w3: Web3, index: int):
        self.w3 = w3
        self.account = Account.from_key(keccak(f"chaos-bench-{index}".encode()))
        w3.provider.make_request("anvil_setBalance", [self.account.address, hex(10**24)])
        self.nonce = w3.eth.get_transaction_count(self.account.address)
        self.chain_id = w3.eth.chain_id

    def sign(self, contract, function: str, args: list, gas: int, value: int = 0):
        """The signed transaction (no RPC call: the calldata is encoded here, gas and fees are fixed)."""
        tx = {"to": contract.address, "data": contract.encode_abi(function, args=args), "nonce": self.nonce,
              "gas": gas, "value": value, "maxFeePerGas": 2 * GWEI, "maxPriorityFeePerGas": GWEI,
              "chainId": self.chain_id, "type": 2}
        self.nonce += 1
        return self.account.sign_transaction(tx)

    def send(self, contract, function: str, args: list, gas: int, value: int = 0) -> str:
        signed = self.sign(contract, function, args, gas, value)
        return self.w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()


def _sign_load(contract, senders: list[_Sender], owners: dict, *, first_id: int, mints: int, transfers: int,
               price: int) -> list:
    """The load, signed: mints (token ids from `first_id` in mint order), then transfers of those tokens
    round-robin, each from its current owner to the next wallet. `owners` ends with the last owners."""
    signed = []
    for i in range(mints):
        sender = senders[i % SENDERS]
        signed.append(sender.sign(contract, "mint", [f"load test piece {i}"], MINT_GAS, price))
        owners[first_id + i] = sender
    for i in range(transfers):
        token_id = first_id + i % mints
        owner = owners[token_id]
        receiver = senders[(senders.index(owner) + 1) % SENDERS]
        signed.append(owner.sign(contract, "transferFrom",
                                 [owner.account.address, receiver.account.address, token_id], TRANSFER_GAS))
        owners[token_id] = receiver
    return signed


class _SenderProcess:
    """renderer.devtools.bench_sender in a child process: started ready to send, stopped whatever happens."""

    def __init__(self, rpc_url: str, signed: list, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.hashes = [tx.hash.to_0x_hex() for tx in signed]
        transactions = folder / "transactions.json"
        transactions.write_text(json.dumps([tx.raw_transaction.to_0x_hex() for tx in signed]))
        self.result = folder / "sent.json"
        self.stderr_path = folder / "stderr.txt"
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "renderer.devtools.bench_sender", rpc_url, str(transactions), str(self.result)],
                cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            if self.process.stdout.readline().strip() != "ready":
                self.process.wait(timeout=30)
                raise RuntimeError(f"the load sender did not start: {self._stderr()}")
        except BaseException:
            self.stop()
            raise

    def _stderr(self) -> str:
        return self.stderr_path.read_text()[-3000:].strip() or f"exit status {self.process.returncode}"

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def done(self) -> bool:
        """True once every transaction was sent; raises if the sender failed."""
        status = self.process.poll()
        if status not in (None, 0):
            raise RuntimeError(f"the load sender failed: {self._stderr()}")
        return status == 0

    def sent(self) -> tuple[dict[str, float], float]:
        """{tx hash: wall-clock send time} and the sender's CPU seconds."""
        result = json.loads(self.result.read_text())
        return dict(zip(self.hashes, result["sent_at"])), result["cpu_seconds"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


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
             progress: Progress, commit_linger: float | None = None) -> dict:
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
                            poll_interval=POLL_INTERVAL, batch_size=50, workers=workers,
                            **({} if commit_linger is None else {"commit_linger": commit_linger}))
        owners: dict[int, _Sender] = {}
        signed = _sign_load(canvas.contract, senders, owners, first_id=functions.totalMinted().call() + 1,
                            mints=mints, transfers=transfers, price=price)
        daemon = open_daemon(settings, renderer)
        sender = None
        try:
            sender = _SenderProcess(anvil.url, signed, out / "sender")
            clock = StageClock()
            daemon.measure_with(clock)

            def drained() -> bool:
                if not sender.done():
                    return False
                counts = daemon.store.counts()
                if counts["failed"]:  # its children wait for it forever: the load can never drain
                    raise RuntimeError(f"{counts['failed']} job(s) failed for good; the last error: "
                                       f"{daemon.store.last_error()}")
                return counts["committed"] + counts["covered"] == total

            progress(f"{workers} worker(s): sending {mints} mints and {transfers} transfers from {SENDERS} wallets "
                     "(signed beforehand, sent from their own process)")
            nodes_cpu = {"anvil": _process_cpu(anvil.process), "IPFS node": _process_cpu(ipfs.process)}
            started = time.monotonic()
            sender.go()
            daemon.run(until=drained, timeout=3600)
            drain_seconds = time.monotonic() - started
            nodes_cpu = {name: _process_cpu(node.process) - nodes_cpu[name]
                         for name, node in (("anvil", anvil), ("IPFS node", ipfs))}
            sent_at, sender_cpu = sender.sent()
            nodes_cpu["load sender"] = sender_cpu

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
                result["gas_per_render_unbatched"] = _unbatched_gas(daemon, w3, canvas.contract, senders, owners,
                                                                    price, mints, transfers, unbatched_sample,
                                                                    progress)
        finally:
            if sender is not None:
                sender.stop()
            daemon.close()
    return result


def _unbatched_gas(daemon, w3, contract, senders, owners, price, mints, transfers, sample, progress) -> float:
    """Gas per event when every commit carries one token (the same mint/transfer mix)."""
    progress(f"measuring commits of one token per transaction on {sample} more events")
    daemon.committer.batch_size = 1
    before = {row[0] for row in daemon.store.db.execute("SELECT DISTINCT commit_tx FROM jobs")}
    sample_mints = max(1, sample * mints // (mints + transfers))
    first_new = contract.functions.totalMinted().call() + 1
    wanted = []
    for i in range(sample_mints):
        senders[i % SENDERS].send(contract, "mint", [f"unbatched {i}"], MINT_GAS, price)
        owners[first_new + i] = senders[i % SENDERS]
        wanted.append((first_new + i, 0))
    for i in range(sample - sample_mints):
        token_id = first_new + i % sample_mints
        owner, receiver = owners[token_id], senders[(senders.index(owners[token_id]) + 1) % SENDERS]
        owner.send(contract, "transferFrom", [owner.account.address, receiver.account.address, token_id],
                   TRANSFER_GAS)
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
                   image_size: int = 256, workers: list[int] | tuple[int, ...] = (0,),
                   commit_linger: float | None = None) -> dict:
    """Run the load once per worker count; returns the best run's figures (all runs under "runs").
    `commit_linger`: the daemon's (seconds a partial commit waits for renders still out); None: its default."""
    if not workers or any(w < 0 for w in workers):
        raise ValueError(f"--workers takes counts of 0 or more, e.g. 0,1,2; not {workers}")
    progress = Progress()
    root = (out_root / "bench-load").resolve()
    runs = []
    for index, count in enumerate(workers):
        runs.append(_one_run(root / f"workers-{count}", mints=mints, transfers=transfers,
                             unbatched_sample=unbatched_sample if index == 0 else 0, image_size=image_size,
                             workers=count, progress=progress, commit_linger=commit_linger))
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
              f"{run['latency_p50_s']:.2f} s, p95 {run['latency_p95_s']:.2f} s; {run['commit_transactions']} "
              "commit transactions")
        print(f"  CPU ms per event: {_cpu_line(run['cpu_ms_per_event'])}")
    best = max(runs, key=lambda run: run["events_per_second"])
    print(f"drain: {best['events_per_second']:.1f} events/s, p95 latency {best['latency_p95_s']:.2f} s "
          f"({best['workers']} workers)")
    return {**best, **{k: v for k, v in first.items() if k == "gas_per_render_unbatched"}, "runs": runs}

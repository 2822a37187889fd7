"""`chaos bench load`: how fast the daemon drains a burst of mints and transfers.

Starts its own Anvil and IPFS node, deploys, then sends MINTS mints and
TRANSFERS transfers from many funded wallets as fast as Anvil accepts them
(signed locally, explicit nonces, no waiting), while the daemon (CPU backend)
runs beside them. It prints events/s, end-to-end latency p50/p95 (from sending
the event's transaction, which Anvil mines at once, to the daemon recording the
commit's receipt), and gas per committed render with and without batching.
Its last line: `drain: N events/s, p95 latency S s`.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3

from .chain import Canvas, connect
from .config import Settings
from .daemon import open_daemon
from .demo import ANVIL_KEYS, Progress, run_deploy
from .nodes import AnvilNode, IpfsNode

SENDERS = 16
MINT_GAS, TRANSFER_GAS = 250_000, 150_000
GWEI = 10**9


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


def run_load_bench(out_root: Path, mints: int = 200, transfers: int = 1000, unbatched_sample: int = 20,
                   image_size: int = 256) -> dict:
    progress = Progress()
    out = (out_root / "bench-load").resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    renderer = Account.from_key(ANVIL_KEYS["renderer"])
    with AnvilNode(out / "nodes") as anvil, IpfsNode(out / "nodes" / "ipfs") as ipfs:
        record = run_deploy(anvil.url, renderer.address, out / "deployment.json")
        w3 = connect(anvil.url)
        canvas = Canvas(w3, record["canvas"])
        functions = canvas.contract.functions
        price = functions.mintPrice().call()
        senders = [_Sender(w3, i) for i in range(SENDERS)]
        settings = Settings(rpc_url=anvil.url, canvas=record["canvas"], ipfs_api=ipfs.api_multiaddr,
                            out_dir=out / "renderer", start_block=record["block"], image_size=image_size,
                            poll_interval=0.05, batch_size=50)
        daemon = open_daemon(settings, renderer)
        sent_at: dict[str, float] = {}
        load_done = threading.Event()

        def drained() -> bool:
            counts = daemon.store.counts()
            return load_done.is_set() and counts["committed"] == mints + transfers

        progress(f"sending {mints} mints and {transfers} transfers from {SENDERS} wallets")
        failure: list[BaseException] = []

        def drain() -> None:
            try:
                daemon.run(until=drained, poll_interval=0.05, timeout=3600)
            except BaseException as exc:  # surfaced in the main thread below
                failure.append(exc)

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
        progress(f"sent {mints + transfers} transactions in {send_seconds:.1f} s "
                 f"({(mints + transfers) / send_seconds:.0f} tx/s); draining")
        thread.join()
        if failure:
            raise failure[0]
        drain_seconds = time.monotonic() - started

        rows = daemon.store.db.execute(
            "SELECT event, updated_at, commit_tx FROM jobs WHERE state = 'committed'").fetchall()
        latencies = [updated - sent_at[json.loads(event)["tx_hash"]] for event, updated, _ in rows]
        commit_txs = {tx for _, _, tx in rows}
        batched_gas = sum(w3.eth.get_transaction_receipt(tx)["gasUsed"] for tx in commit_txs)
        events = len(rows)

        progress(f"measuring unbatched commits on {unbatched_sample} more events (same mint/transfer mix)")
        daemon.committer.batch_size = 1
        before = set(commit_txs)
        sample_mints = max(1, unbatched_sample * mints // (mints + transfers))
        first_new = functions.totalMinted().call() + 1
        wanted = []
        for i in range(sample_mints):
            senders[i % SENDERS].send(functions.mint(f"unbatched {i}"), MINT_GAS, price)
            owners[first_new + i] = senders[i % SENDERS]
            wanted.append((first_new + i, 0))
        for i in range(unbatched_sample - sample_mints):
            token_id = first_new + i % sample_mints
            owner, receiver = owners[token_id], senders[(senders.index(owners[token_id]) + 1) % SENDERS]
            owner.send(functions.transferFrom(owner.account.address, receiver.account.address, token_id),
                       TRANSFER_GAS)
            owners[token_id] = receiver
            wanted.append((token_id, sum(1 for t, _ in wanted if t == token_id)))
        daemon.run(until=lambda: all((j := daemon.store.job(*key)) and j.state == "committed" for key in wanted),
                   poll_interval=0.05, timeout=600)
        single_txs = {daemon.store.job(*key).commit_tx for key in wanted} - before
        single_gas = sum(w3.eth.get_transaction_receipt(tx)["gasUsed"] for tx in single_txs)
        daemon.store.close()
        daemon.pinner.close()

    result = {
        "events": events, "seconds": drain_seconds, "events_per_second": events / drain_seconds,
        "latency_p50_s": _percentile(latencies, 0.50), "latency_p95_s": _percentile(latencies, 0.95),
        "commit_transactions": len(commit_txs), "gas_per_render_batched": batched_gas / events,
        "gas_per_render_unbatched": single_gas / max(1, unbatched_sample), "image_size": image_size,
    }
    print(f"events rendered, pinned and committed: {events} ({mints} mints, {transfers} transfers)")
    print(f"wall time from first send to last commit: {drain_seconds:.1f} s")
    print(f"commit transactions: {len(commit_txs)} (mean {events / len(commit_txs):.1f} renders each)")
    print(f"gas per committed render: {result['gas_per_render_batched']:,.0f} batched, "
          f"{result['gas_per_render_unbatched']:,.0f} one per transaction")
    print(f"latency (event sent -> commit receipt): p50 {result['latency_p50_s']:.2f} s, "
          f"p95 {result['latency_p95_s']:.2f} s")
    print(f"drain: {result['events_per_second']:.1f} events/s, p95 latency {result['latency_p95_s']:.2f} s")
    return result

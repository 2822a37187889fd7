"""The load of `chaos bench load`, sent from its own process: raw transactions, signed beforehand.

    python -m renderer.devtools.bench_sender RPC_URL TRANSACTIONS_JSON RESULT_JSON

Reads the signed transactions (a JSON list of 0x-hex strings, in sending order),
opens one keep-alive HTTP connection to the node, prints `ready` and waits for a
line on stdin; then sends each with `eth_sendRawTransaction`, one after the
other, as fast as the node takes them. It writes RESULT_JSON: the wall-clock
time (`time.time()`, comparable across processes) at which the node accepted
each one, and the CPU seconds this process spent sending. A transaction the
node refuses stops it with exit status 1 and the node's answer on stderr.

Its own process, so that neither its CPU time nor its interpreter lock is taken
from the daemon it loads; nothing but the standard library, so it starts fast.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


def send_all(rpc_url: str, transactions: list[str]) -> list[float]:
    url = urlsplit(rpc_url)
    connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
    headers = {"Content-Type": "application/json"}
    sent_at = []
    try:
        for index, raw in enumerate(transactions):
            body = json.dumps({"jsonrpc": "2.0", "id": index, "method": "eth_sendRawTransaction", "params": [raw]})
            connection.request("POST", url.path or "/", body, headers)
            answer = json.loads(connection.getresponse().read())
            if "error" in answer:
                raise RuntimeError(f"the node refused transaction {index} of {len(transactions)}: {answer['error']}")
            sent_at.append(time.time())
    finally:
        connection.close()
    return sent_at


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    rpc_url, transactions_path, result_path = argv
    transactions = json.loads(Path(transactions_path).read_text())
    print("ready", flush=True)
    sys.stdin.readline()
    cpu = time.process_time()
    try:
        sent_at = send_all(rpc_url, transactions)
    except (RuntimeError, OSError, http.client.HTTPException) as exc:
        print(exc, file=sys.stderr)
        return 1
    Path(result_path).write_text(json.dumps({"sent_at": sent_at, "cpu_seconds": time.process_time() - cpu}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

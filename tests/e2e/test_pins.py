"""A job's files go to IPFS in one add request per endpoint: every CID checked, every replica holding them.

The faults are injected by a loopback HTTP proxy in front of a real js-ipfs node: the node pins for real,
and the proxy forges one CID in the answer, or cuts the answer short, as a broken or lying node would.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from renderer import wallet
from renderer.cid import file_cid
from renderer.daemon import open_daemon
from renderer.errors import CidMismatch, IpfsUnavailable
from renderer.ipfs import Pinner, Replicas
from renderer.devtools.nodes import IpfsNode, free_port

from ..tcp_proxy import TcpProxy
from .helpers import COLLECTOR, RENDERER, commits_of, committed

pytestmark = pytest.mark.e2e

FORGED = file_cid(b"not what was sent")


class AddProxy:
    """Forwards every request to a node; `mode` says what it does to an add's answer: "pass" it on,
    "forge" the CID `target` (by default the second file's), or "cut" it after the first file. Counts the
    add requests."""

    def __init__(self, target_port: int):
        self.mode = "pass"
        self.target: str | None = None
        self.adds = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=30)
                upstream.request("POST", self.path, body, {"Content-Type": self.headers.get("Content-Type", "")})
                response = upstream.getresponse()
                status, answer = response.status, response.read()
                upstream.close()
                if self.path.startswith("/api/v0/add"):
                    proxy.adds += 1
                    answer = proxy._tamper(answer)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def multiaddr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.server.server_port}/http"

    def _tamper(self, answer: bytes) -> bytes:
        lines = answer.splitlines()
        if self.mode == "forge":
            answers = [json.loads(line) for line in lines]
            hit = next((i for i, a in enumerate(answers) if a["Hash"] == self.target), None) if self.target else 1
            if hit is not None and hit < len(lines):
                lines[hit] = json.dumps({**answers[hit], "Hash": FORGED}).encode()
        if self.mode == "cut":
            lines = lines[:1]
        return b"\n".join(lines) + b"\n"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def add_proxy(ipfs_node):
    proxy = AddProxy(ipfs_node.api_port)
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def second_ipfs(tmp_path_factory):
    with IpfsNode(tmp_path_factory.mktemp("ipfs2") / "repo") as node:
        yield node


def _files() -> list[bytes]:
    """A job's worth of files: small, empty, one past the 256 KiB chunk size (a dag-pb root), a repeat."""
    small = os.urandom(1000)
    return [small, b"", os.urandom(300_000), small, json.dumps({"n": os.urandom(8).hex()}).encode()]


def test_a_jobs_files_are_pinned_in_one_request_per_replica(ipfs_node, second_ipfs, add_proxy):
    files = _files()
    replicas = Replicas(f"{add_proxy.multiaddr},{second_ipfs.api_multiaddr}", timeout=10)
    cids = replicas.pin_many(files)
    assert cids == [file_cid(data) for data in files]
    assert add_proxy.adds == 1
    for api in (ipfs_node.api_multiaddr, second_ipfs.api_multiaddr):
        node = Pinner(api)
        assert set(cids) <= node.pinned()
        assert node.cat(cids[2]) == files[2]
    assert replicas.pin(files[0]) == cids[0]  # one file: the same request with one part


def test_a_forged_cid_for_one_of_several_files_is_refused(ipfs_node, add_proxy):
    add_proxy.mode = "forge"
    files = _files()
    with pytest.raises(CidMismatch) as refused:
        Replicas([ipfs_node.api_multiaddr, add_proxy.multiaddr]).pin_many(files)
    assert str(refused.value) == (f"the IPFS node at {add_proxy.multiaddr} returned {FORGED} for {len(files[1])} "
                                  f"bytes whose CID is {file_cid(files[1])}: refusing to commit it")


def test_a_replica_that_is_down_fails_the_pin_with_the_usual_message(ipfs_node):
    down = f"/ip4/127.0.0.1/tcp/{free_port()}/http"
    with pytest.raises(IpfsUnavailable) as unavailable:
        Replicas([ipfs_node.api_multiaddr, down], timeout=2).pin_many(_files())
    assert str(unavailable.value) == (f"cannot reach the IPFS node at {down} (ConnectionError); "
                                      "is it running? set CHAOS_IPFS_API or --ipfs-api")


def test_a_connection_the_node_closed_while_idle_is_opened_again(ipfs_node):
    proxy = TcpProxy(ipfs_node.api_port).up()
    try:
        pinner = Pinner(proxy.multiaddr, timeout=5)
        pinner.pin(os.urandom(100))
        proxy.down()  # cuts the kept-alive connection, as a node's idle timeout does
        proxy.up()
        data = os.urandom(100)
        assert pinner.pin(data) == file_cid(data)
    finally:
        proxy.down()


def test_a_forged_cid_refuses_its_job_alone_until_the_node_answers_true(canvas, settings, add_proxy):
    forged, honest = (wallet.mint(canvas, COLLECTOR, prompt)[0] for prompt in ("forged once", "honest"))
    daemon = open_daemon(replace(settings, ipfs_api=add_proxy.multiaddr), RENDERER)
    daemon.read_chain(), daemon.render_ready()
    add_proxy.mode, add_proxy.target = "forge", daemon.store.job(forged, 0).image_cid
    waiting = len(daemon.store.jobs("rendered"))  # these two, and the module's earlier tokens
    assert daemon.pin_ready() == waiting - 1
    assert add_proxy.adds == 1 + waiting  # all jobs in one request; refused, then one request each to tell which
    assert daemon.store.job(forged, 0).state == "rendered"
    assert daemon.store.job(honest, 0).state == "pinned"
    assert f"returned {FORGED}" in daemon.store.last_error()
    daemon.commit_ready()
    assert commits_of(canvas, forged) == []

    add_proxy.mode = "pass"
    daemon.run(until=committed(daemon, forged, 0), poll_interval=0.1, timeout=60)
    assert commits_of(canvas, forged) == [(0, daemon.store.job(forged, 0).metadata_cid)]
    assert commits_of(canvas, honest) == [(0, daemon.store.job(honest, 0).metadata_cid)]


def test_an_add_cut_short_leaves_the_job_unpinned_and_it_is_retried(canvas, settings, add_proxy):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "cut short")
    daemon = open_daemon(replace(settings, ipfs_api=add_proxy.multiaddr), RENDERER)
    daemon.read_chain(), daemon.render_ready()
    add_proxy.mode = "cut"
    waiting = daemon.store.jobs("rendered")
    with pytest.raises(IpfsUnavailable, match=r"answered for 1 of \d+ files"):
        daemon.pin_ready()
    assert len(daemon.store.jobs("rendered")) == len(waiting)  # none of them pinned

    add_proxy.mode = "pass"
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=60)
    assert len(commits_of(canvas, token_id)) == 1
    job = daemon.store.job(token_id, 0)
    assert {job.image_cid, job.metadata_cid} <= Pinner(add_proxy.multiaddr).pinned()

"""The gallery's parts that need no node: the CID cache, content types, the read-only HTTP surface.
The JSON API over a real chain and IPFS is tested end to end in tests/e2e/test_gallery.py."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from renderer.gallery.api import NO_POOLS, CidCache, Gallery, content_type
from renderer.gallery.pools import price_history
from renderer.gallery.server import GalleryServer


class CountingIpfs:
    def __init__(self, blobs: dict[str, bytes]):
        self.blobs = blobs
        self.calls: list[str] = []

    def cat(self, cid: str) -> bytes:
        self.calls.append(cid)
        return self.blobs[cid]


def test_the_cache_reads_each_cid_once_and_drops_the_least_recently_used():
    ipfs = CountingIpfs({"a": b"1" * 40, "b": b"2" * 40, "c": b"3" * 40})
    cache = CidCache(ipfs, max_bytes=100)
    assert cache.cat("a") == b"1" * 40 and cache.cat("a") == b"1" * 40
    cache.cat("b")
    cache.cat("a")  # a is now the most recently used
    cache.cat("c")  # 120 bytes > 100: b goes
    assert cache.get("b") is None and cache.get("a") and cache.get("c")
    assert ipfs.calls == ["a", "b", "c"]


def test_content_types_come_from_the_bytes():
    assert content_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert content_type(b' {"name": 1}') == "application/json"
    assert content_type(b"<html>") == "application/octet-stream"


def test_no_pools_contract_means_no_prices():
    assert price_history(None, None) == []
    assert Gallery(object(), CountingIpfs({}), None).pools() == {"pools": None, "message": NO_POOLS, "hues": [],
                                                                  "history": []}


def test_only_cids_of_the_canvas_are_served():
    ipfs = CountingIpfs({"bafkreiaxvzbzoqvwhljpg7qk2pu4c2yi4xgnzyjfhbfvjtazkzwy2tq754": b"\x89PNG\r\n\x1a\n"})
    gallery = Gallery(object(), ipfs)
    with pytest.raises(LookupError):
        gallery.content("bafkreiaxvzbzoqvwhljpg7qk2pu4c2yi4xgnzyjfhbfvjtazkzwy2tq754")
    with pytest.raises(LookupError):
        gallery.content("../../etc/passwd")
    assert ipfs.calls == []
    gallery._known.add("bafkreiaxvzbzoqvwhljpg7qk2pu4c2yi4xgnzyjfhbfvjtazkzwy2tq754")
    assert gallery.content("bafkreiaxvzbzoqvwhljpg7qk2pu4c2yi4xgnzyjfhbfvjtazkzwy2tq754")[1] == "image/png"


@pytest.fixture
def server():
    server = GalleryServer(("127.0.0.1", 0), Gallery(object(), CountingIpfs({}))).start()
    yield server
    server.close()


def _request(server, path, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(server.url + path, method=method), timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_the_server_is_read_only_and_serves_the_page(server):
    status, headers, body = _request(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"/app.js" in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    for path in ("/app.js", "/style.css"):
        assert _request(server, path)[0] == 200
    assert _request(server, "/", "HEAD")[2] == b""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, body = _request(server, "/api/tokens", method)
        assert status == 405 and headers["Allow"] == "GET, HEAD" and "read-only" in json.loads(body)["error"]
    assert json.loads(_request(server, "/api/pools")[2])["message"] == NO_POOLS
    assert _request(server, "/ipfs/bafkreiaxvzbzoqvwhljpg7qk2pu4c2yi4xgnzyjfhbfvjtazkzwy2tq754")[0] == 404
    assert _request(server, "/static/../../secret")[0] == 404

"""The gallery's parts that need no node: the CID cache, content types, the read-only HTTP surface.
The JSON API over a real chain and IPFS is tested end to end in tests/e2e/test_gallery.py."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from renderer.cid import file_cid
from renderer.gallery.api import NO_POOLS, BadRequest, CidCache, Gallery, content_type
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
    with pytest.raises(BadRequest, match="is not a CID"):
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


#: Input the API must refuse with a 400 naming the problem, before it reads anything (the gallery here
#: has no canvas at all: any read would be a 500).
BAD_INPUTS = {
    "/api/tokens/-1": "the token id must be a whole number",
    "/api/tokens/abc": "the token id must be a whole number",
    "/api/tokens/1.5": "the token id must be a whole number",
    "/api/tokens/%2D1": "the token id must be a whole number",
    "/api/tokens/": "the token id must be a whole number",
    "/api/tokens/" + "9" * 79: "the token id must be from 0 to",
    "/api/tokens/" + str(2**256): "the token id must be from 0 to",
    "/api/tokens?page=-5": "page must be a whole number",
    "/api/tokens?page=x": "page must be a whole number",
    "/api/tokens?page=": "page must be a whole number",
    "/api/tokens?page=1000001": "page must be from 0 to 1000000",
    "/api/tokens?page=" + "9" * 200: "page must be a whole number",
    "/api/tokens?per_page=0": "per_page must be from 1 to 200",
    "/api/tokens?per_page=201": "per_page must be from 1 to 200",
    "/api/tokens?per_page=-3": "per_page must be a whole number",
    "/ipfs/../../etc/passwd": "is not a CID",
    "/ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG": "is not a CID",
    "/ipfs/bafkreiaxvzbzoqvwhljpg7qk2pu4c2yi4xgnzyjfhbfvjtazkzwy2tq75": "is not a CIDv1 of a sha2-256",
    "/ipfs/b" + "a" * 58: "is not a CIDv1 of a sha2-256",
    "/ipfs/" + "b" * 500: "is not a CID",
    "/age/not-a-cid.png": "is not a CID",
    "/age/.png": "is not a CID",
    "/api/tokens/1/probe?x=-1&y=0": "x must be a whole number",
    "/api/tokens/1/probe?y=3": "x must be a whole number",
    "/api/tokens/1/probe?x=1&y=abc": "y must be a whole number",
    "/api/tokens/1/probe?x=1&y=" + str(2**32): "y must be from 0 to 4294967295",
    "/api/tokens/1/probe?x=1&y=1&generation=-1": "generation must be a whole number",
    "/api/tokens/-1/probe?x=1&y=1": "the token id must be a whole number",
    "/api/tokens/1.5/observe": "the token id must be a whole number",
}


@pytest.mark.parametrize("path", sorted(BAD_INPUTS))
def test_bad_input_is_a_400_that_names_the_problem(server, path):
    status, headers, body = _request(server, path)
    assert (status, headers["Content-Type"]) == (400, "application/json"), (path, status, body[:200])
    assert BAD_INPUTS[path] in json.loads(body)["error"], json.loads(body)


def test_a_well_formed_cid_the_canvas_does_not_name_is_a_404(server):
    status, _, body = _request(server, "/ipfs/" + file_cid(b"not this canvas's"))
    assert status == 404 and "is not a CID of this canvas's tokens" in json.loads(body)["error"]


def test_the_probe_route_answers_from_the_token_history_the_page_loaded():
    """No chain here at all (the canvas is a bare object): the probe reads only the history kept for the token."""
    from renderer.probe import TokenAges

    from .test_probe import HEIGHT, PIXEL, WIDTH, _history

    gallery = Gallery(object(), CountingIpfs({}))
    gallery._ages[1] = TokenAges(_history()[0], gallery._probe_cache)
    server = GalleryServer(("127.0.0.1", 0), gallery).start()
    try:
        status, headers, body = _request(server, f"/api/tokens/1/probe?x={PIXEL[0]}&y={PIXEL[1]}&generation=5")
        answer = json.loads(body)
        assert (status, headers["Content-Type"]) == (200, "application/json")
        assert (answer["born"]["generation"], answer["repaints"], answer["age"]) == (4, 2, 1)
        assert [e["generation"] for e in answer["events"]] == [0, 1, 4]
        assert json.loads(_request(server, f"/api/tokens/1/probe?x={PIXEL[0]}&y={PIXEL[1]}")[2]) == answer
        for x, y in ((WIDTH, 0), (0, HEIGHT), (500, 500)):
            status, _, body = _request(server, f"/api/tokens/1/probe?x={x}&y={y}&generation=5")
            assert status == 400, (x, y, body)
            assert f"pixel ({x}, {y}) is outside the {WIDTH} x {HEIGHT} image" in json.loads(body)["error"]
    finally:
        server.close()

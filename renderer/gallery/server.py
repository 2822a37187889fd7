"""The gallery's HTTP server: stdlib `ThreadingHTTPServer`, read-only, 127.0.0.1 by default.

Routes (GET and HEAD only; anything else is 405):
    /  /app.js  /style.css      the page (static files beside this module)
    /api/config                 chain id, canvas, mint price (wei), max prompt bytes, mint(string) selector
    /api/tokens?page=N          the grid, newest first (owner, generation, latest image CID)
    /api/tokens/<id>            a token's generations (the rows `chaos history` prints) with images,
                                age layer, palette and trust badge (renderer.verify's verdict), and its
                                sealed layer (sealed until when, or revealed with which layer prompt)
    /api/tokens/<id>/probe?x=X&y=Y[&generation=G]
                                the carbon-14 probe of one pixel (renderer.probe): born when, repainted
                                how often, by which events; a pixel outside the image is a 400 naming its size
    /api/tokens/<id>/observe    the EIP-712 typed data the holder's wallet signs to observe the token now
                                (the page's wallet then sends observe(tokenId, signature) itself)
    /api/pools                  colour-pool prices now and after each trade, or "no colour pools"
    /api/auctions               Last Frame auctions: open ones with their windows, settled ones (gallery/auctions.py)
    /ipfs/<cid>                 bytes of a CID one of the canvas's tokens names (PNG or JSON), cached;
                                the page needs no IPFS gateway

Bad input (a negative or huge id or page, a malformed CID) is a 400 naming the problem, before anything
is read; a well-formed CID or id the canvas does not know is a 404.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import requests
from web3.exceptions import Web3Exception

from ..errors import ChaosError
from ..pools import find_pools, open_pools
from .api import (MAX_COORDINATE, MAX_PAGE, MAX_PER_PAGE, MAX_TOKEN_ID, BadRequest, Gallery, parse_cid,
                  parse_whole)

log = logging.getLogger("chaos.gallery")

STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8"),
          "/auctions.js": ("auctions.js", "text/javascript; charset=utf-8")}
#: /api/tokens/<id>/<what>: a question about one token beyond its page.
TOKEN_ACTION = re.compile(r"^/api/tokens/([^/]*)/(probe|observe)$")
MAX_GENERATION = 2**64 - 1
#: The page loads nothing from elsewhere: no CDN, no fonts, no gateway. A browser wallet talks to its
#: own node from its own context, so the page itself only ever connects to this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _static(name: str) -> bytes:
    return resources.files("renderer.gallery").joinpath("static", name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    server: GalleryServer
    server_version = "chaos-gallery"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the stdlib's signature)
        log.debug("%s %s", self.address_string(), format % args)

    # --------------------------------------------------------------- responses

    def _send(self, status: int, body: bytes, content_type: str, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", CSP)
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    # --------------------------------------------------------------- routes

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query, keep_blank_values=True)
        gallery = self.server.gallery
        try:
            if path in STATIC:
                name, content_type = STATIC[path]
                self._send(HTTPStatus.OK, _static(name), content_type, cache="no-cache")
            elif path == "/api/config":
                self._json(gallery.config())
            elif path == "/api/tokens":
                page = parse_whole("page", query.get("page", ["0"])[0], 0, MAX_PAGE, "?page=2")
                per_page = parse_whole("per_page", query.get("per_page", ["48"])[0], 1, MAX_PER_PAGE, "?per_page=48")
                self._json(gallery.tokens(page, per_page))
            elif match := TOKEN_ACTION.match(path):
                token_id = parse_whole("the token id", match[1], 0, MAX_TOKEN_ID, f"/api/tokens/1/{match[2]}")
                if match[2] == "probe":
                    x = parse_whole("x", query.get("x", [None])[0], 0, MAX_COORDINATE, "?x=12&y=40")
                    y = parse_whole("y", query.get("y", [None])[0], 0, MAX_COORDINATE, "?x=12&y=40")
                    generation = query.get("generation", [None])[0]
                    if generation is not None:
                        generation = parse_whole("generation", generation, 0, MAX_GENERATION, "&generation=3")
                    self._json(gallery.probe(token_id, x, y, generation))
                else:
                    self._json(gallery.observe_request(token_id))
            elif path.startswith("/api/tokens/"):
                token_id = parse_whole("the token id", path.removeprefix("/api/tokens/"), 0, MAX_TOKEN_ID,
                                       "/api/tokens/1")
                self._json(gallery.token(token_id))
            elif path == "/api/pools":
                self._json(gallery.pools())
            elif path == "/api/auctions":
                from .auctions import auctions_json

                self._json(auctions_json(gallery))
            elif path.startswith("/age/") and path.endswith(".png"):
                png = gallery.age_map(parse_cid(path.removeprefix("/age/").removesuffix(".png")))
                self._send(HTTPStatus.OK, png, "image/png", cache="public, max-age=31536000, immutable")
            elif path.startswith("/ipfs/"):
                cid = parse_cid(path.removeprefix("/ipfs/"))
                data, content_type = gallery.content(cid)
                self._send(HTTPStatus.OK, data, content_type, cache="public, max-age=31536000, immutable")
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        except LookupError as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc).strip("'\""))
        except BadRequest as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"bad request: {exc}")
        except (ChaosError, Web3Exception, requests.RequestException) as exc:
            log.warning("%s: %s", path, exc)
            self._error(HTTPStatus.BAD_GATEWAY, f"the chain or IPFS node did not answer: {exc}")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away (e.g. the page moved on)
        except Exception:
            log.exception("%s failed", path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the gallery's log)")

    do_HEAD = do_GET  # noqa: N815

    def _read_only(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "the gallery is read-only: GET and HEAD only")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _read_only  # noqa: N815


class GalleryServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gallery: Gallery):
        self.gallery = gallery
        super().__init__(address, Handler)
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self) -> GalleryServer:
        """Serve from a background thread (tests, embedding); `close()` stops it."""
        self.thread = threading.Thread(target=self.serve_forever, name="chaos-gallery", daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        if self.thread is not None:
            self.shutdown()
            self.thread.join()
        self.server_close()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve_gallery(canvas, ipfs, host: str = "127.0.0.1", port: int = 8000, pools_address: str | None = None,
                  from_block: int = 0, discover_pools: bool = True) -> GalleryServer:
    """Start the gallery over `canvas` (a `chain.Canvas`) and `ipfs` (anything with `cat(cid)`, e.g.
    `ipfs.Replicas`) in a background thread; port 0 picks a free one (see `server.url`).
    Without `pools_address`, the contract holding the canvas's POOLS_ROLE is used, if there is one."""
    if pools_address is not None:
        # Checked now: a wrong address would otherwise show only as errors in the page's price chart.
        pools_address = open_pools(canvas, pools_address).address
    elif discover_pools:
        pools_address = find_pools(canvas)
    if not _is_loopback(host):
        log.warning("the gallery listens on %s: anyone who can reach this host can read it "
                    "(it is read-only, but it is the chain and IPFS nodes' load)", host)
    server = GalleryServer((host, port), Gallery(canvas, ipfs, pools_address, from_block))
    return server.start()


def run_gallery(settings, host: str = "127.0.0.1", port: int = 8000, pools_address: str | None = None) -> None:
    """`chaos gallery`: serve until interrupted. `settings`: a `config.Settings` (rpc_url, canvas, chain_id,
    ipfs_api, start_block, timeouts)."""
    from ..chain import Canvas, connect
    from ..ipfs import Replicas

    canvas = Canvas(connect(settings.rpc_url, settings.rpc_timeout, settings.chain_id), settings.canvas)
    ipfs = Replicas(settings.ipfs_api, settings.ipfs_timeout)
    try:
        server = serve_gallery(canvas, ipfs, host, port, pools_address, settings.start_block)
    except OSError as exc:
        raise ChaosError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port") from None
    pools = server.gallery.pools_address
    print(f"Chaos Canvas gallery of {canvas.address} (chain {canvas.chain_id}) at {server.url}/  "
          f"[{'colour pools ' + pools if pools else 'no colour pools'}]; Ctrl-C stops it", flush=True)
    try:
        server.thread.join()
    finally:
        server.close()

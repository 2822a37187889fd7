"""Pinning over the Kubo RPC API, on one or several nodes.

Written against the Kubo RPC API: a Kubo daemon works unchanged; the local
demo and the tests run a js-ipfs node, which serves the same API.

Every add asks for CIDv1 with raw leaves in base32 (what `ipfs add
--cid-version=1 --raw-leaves` gives) and pins; the CID a node returns must
equal the one computed locally, or the pin is refused. With several endpoints
(replicas), a pin succeeds only once every one of them holds it: a CID goes
on-chain only after that.

A job's files go to a node in one `/api/v0/add` request (one multipart body,
one JSON line back per file), sent by `http.client`; everything else goes
through ipfshttpclient. Why: measured on js-ipfs with a bench run's own files,
one request per job instead of one per file cuts the node's CPU by a third,
and ipfshttpclient spends ~2 ms of the daemon's CPU on each add where a plain
POST spends ~0.5 ms (README, "Scaling out").
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import urllib.parse
import warnings
from collections import Counter

import ipfshttpclient
import ipfshttpclient.exceptions
from ipfshttpclient.http_common import multiaddr_to_url_data

from .cid import file_cid, normalise
from .errors import CidMismatch, IpfsUnavailable

# ipfshttpclient passes urllib3 an argument it deprecated; the warning says nothing to our users.
warnings.filterwarnings("ignore", message="The 'strict' parameter", category=FutureWarning)

_ADD_QUERY = urllib.parse.urlencode({"cid-version": 1, "raw-leaves": "true", "cid-base": "base32", "pin": "true"})


class Pinner:
    """One Kubo-RPC endpoint."""

    def __init__(self, api: str, timeout: float = 30.0):
        self.api = api
        self.timeout = timeout
        # Client(addr) is ipfshttpclient's documented way around its version check,
        # which rejects every daemon newer than 0.8 (js-ipfs and current Kubo alike).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.client = ipfshttpclient.Client(api, session=True, timeout=timeout)
            except ipfshttpclient.exceptions.AddressError as exc:
                raise IpfsUnavailable(f"bad IPFS API address {api!r} ({exc}); give a multiaddr such as "
                                      "/ip4/127.0.0.1/tcp/5001/http in CHAOS_IPFS_API or --ipfs-api") from None
        base_url, uds_path, _, _ = multiaddr_to_url_data(api, "api/v0")
        if uds_path:
            raise IpfsUnavailable(f"IPFS API address {api!r} is a unix socket, which pinning does not use; give a "
                                  "multiaddr such as /ip4/127.0.0.1/tcp/5001/http in CHAOS_IPFS_API or --ipfs-api")
        url = urllib.parse.urlsplit(base_url)
        self._secure, self._netloc, self._add_path = url.scheme == "https", url.netloc, f"{url.path}add?{_ADD_QUERY}"
        # One kept-alive connection per thread (http.client connections are not shared between threads).
        self._local = threading.local()

    def _unavailable(self, exc: Exception) -> IpfsUnavailable:
        return IpfsUnavailable(f"cannot reach the IPFS node at {self.api} ({type(exc).__name__}); "
                               "is it running? set CHAOS_IPFS_API or --ipfs-api")

    def version(self) -> str:
        try:
            return self.client.version()["Version"]
        except ipfshttpclient.exceptions.Error as exc:
            raise self._unavailable(exc) from None

    def pin(self, data: bytes) -> str:
        """Add and pin `data`; returns its CID after checking it against the local one."""
        return self.pin_many([data])[0]

    def pin_many(self, files: list[bytes], local: list[str] | None = None) -> list[str]:
        """Add and pin every file in one request; returns their CIDs, in order, once the node has reported
        exactly the local ones (`local`: when the caller already computed them from these bytes)."""
        local = local if local is not None else [file_cid(data) for data in files]
        reported = self._add(files)
        # Matched by CID, not by name or position: a node may answer under other names (js-ipfs names
        # some files by their CID) and order is not part of the API.
        unconfirmed = Counter(local) - Counter(reported)
        if unconfirmed:
            index = next(i for i, cid in enumerate(local) if cid in unconfirmed)
            returned = next(iter(Counter(reported) - Counter(local)))  # as many answers as files: one is left
            raise CidMismatch(f"the IPFS node at {self.api} returned {returned} for {len(files[index])} bytes "
                              f"whose CID is {local[index]}: refusing to commit it")
        return local

    def _add(self, files: list[bytes]) -> list[str]:
        """The CIDs the node reports for `files`, added and pinned in one multipart request."""
        boundary = secrets.token_hex(16)
        parts = []
        for index, data in enumerate(files):
            parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="file{index}"\r\n'
                      "Content-Type: application/octet-stream\r\n\r\n".encode(), data, b"\r\n"]
        parts.append(f"--{boundary}--\r\n".encode())
        status, body = self._post(self._add_path, b"".join(parts), f"multipart/form-data; boundary={boundary}")
        try:
            answers = [json.loads(line) for line in body.splitlines() if line.strip()]
        except ValueError:
            answers = None
        refusal = None if answers is None else next((a.get("Message") for a in answers if "Hash" not in a), None)
        if status != 200 or answers is None or refusal is not None:
            detail = refusal or body[:200].decode(errors="replace")
            raise IpfsUnavailable(f"the IPFS node at {self.api} refused to add {len(files)} file(s) "
                                  f"(HTTP {status}: {detail}); see its log")
        if len(answers) != len(files):  # an error after the status line ends the stream early (X-Stream-Error)
            raise IpfsUnavailable(f"the IPFS node at {self.api} answered for {len(answers)} of {len(files)} "
                                  "files; is it healthy? see its log")
        return [answer["Hash"] for answer in answers]

    def _post(self, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        """POST over this thread's kept-alive connection, failures mapped as ipfshttpclient maps them; sent
        again once on a fresh connection when the node had closed an idle one (an add is idempotent)."""
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            reused = connection is not None
            if connection is None:
                cls = http.client.HTTPSConnection if self._secure else http.client.HTTPConnection
                connection = self._local.connection = cls(self._netloc, timeout=self.timeout)
            try:
                connection.request("POST", path, body, {"Content-Type": content_type})
                response = connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                if reused and attempt == 1:
                    self._drop_connection()
                    continue
                error: Exception = ipfshttpclient.exceptions.ConnectionError(exc)
            except TimeoutError as exc:
                error = ipfshttpclient.exceptions.TimeoutError(exc)
            except OSError as exc:
                error = ipfshttpclient.exceptions.ConnectionError(exc)
            except http.client.HTTPException as exc:
                error = ipfshttpclient.exceptions.ProtocolError(exc)
            self._drop_connection()
            raise self._unavailable(error) from None

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def pinned(self) -> set[str]:
        """Every recursively pinned CID, as CIDv1 base32."""
        try:
            keys = self.client.pin.ls(type="recursive")["Keys"]
        except ipfshttpclient.exceptions.Error as exc:
            raise self._unavailable(exc) from None
        return {normalise(cid) for cid in keys}

    def cat(self, cid: str) -> bytes:
        """The bytes of `cid` (fails after the timeout rather than hanging on a missing block)."""
        try:
            return self.client.cat(cid, timeout=self.timeout)
        except ipfshttpclient.exceptions.Error as exc:
            raise self._unavailable(exc) from None

    def close(self) -> None:
        self._drop_connection()
        self.client.close()


class Replicas:
    """Several Kubo-RPC endpoints written together; the daemon's view of IPFS."""

    def __init__(self, apis: list[str] | str, timeout: float = 30.0):
        if isinstance(apis, str):
            apis = [a.strip() for a in apis.split(",") if a.strip()]
        if not apis:
            raise IpfsUnavailable("no IPFS endpoint configured: set CHAOS_IPFS_API or --ipfs-api")
        self.nodes = [Pinner(api, timeout) for api in apis]

    def version(self) -> list[str]:
        return [node.version() for node in self.nodes]

    def pin(self, data: bytes) -> str:
        """Pin on every endpoint; raises unless all of them hold `data` under its CID."""
        return self.pin_many([data])[0]

    def pin_many(self, files: list[bytes]) -> list[str]:
        """Pin every file on every endpoint, one request per endpoint; their CIDs in order. Raises unless
        every endpoint holds every file under the CID computed here."""
        local = [file_cid(data) for data in files]
        for node in self.nodes:
            node.pin_many(files, local)
        return local

    def cat(self, cid: str) -> bytes:
        """The bytes of `cid` from the first endpoint that serves them."""
        error: Exception | None = None
        for node in self.nodes:
            try:
                return node.cat(cid)
            except IpfsUnavailable as exc:
                error = exc
        raise error

    def close(self) -> None:
        for node in self.nodes:
            node.close()

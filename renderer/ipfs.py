"""Pinning over the Kubo RPC API (ipfshttpclient), on one or several nodes.

Written against the Kubo RPC API: a Kubo daemon works unchanged; the local
demo and the tests run a js-ipfs node, which serves the same API.

Every add asks for CIDv1 with raw leaves in base32 (what `ipfs add
--cid-version=1 --raw-leaves` gives) and pins; the CID a node returns must
equal the one computed locally, or the pin is refused. With several endpoints
(replicas), a pin succeeds only once every one of them holds it: a CID goes
on-chain only after that.
"""

from __future__ import annotations

import io
import warnings

import ipfshttpclient
import ipfshttpclient.exceptions

from .cid import file_cid, normalise
from .errors import CidMismatch, IpfsUnavailable

# ipfshttpclient passes urllib3 an argument it deprecated; the warning says nothing to our users.
warnings.filterwarnings("ignore", message="The 'strict' parameter", category=FutureWarning)


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
        expected = file_cid(data)
        try:
            result = self.client.add(io.BytesIO(data), raw_leaves=True, cid_version=1, pin=True,
                                     opts={"cid-base": "base32"})
        except ipfshttpclient.exceptions.Error as exc:
            raise self._unavailable(exc) from None
        cid = result["Hash"]
        if cid != expected:
            raise CidMismatch(f"the IPFS node at {self.api} returned {cid} for {len(data)} bytes "
                              f"whose CID is {expected}: refusing to commit it")
        return cid

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
        cids = {node.pin(data) for node in self.nodes}
        return cids.pop()

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

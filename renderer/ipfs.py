"""Pinning over the Kubo RPC API (ipfshttpclient).

Written against the Kubo RPC API: a Kubo daemon works unchanged; the local
demo and the tests run a js-ipfs node, which serves the same API.

Every add asks for CIDv1 with raw leaves in base32 (what `ipfs add
--cid-version=1 --raw-leaves` gives) and pins; the CID the node returns must
equal the one computed locally, or the pin is refused.
"""

from __future__ import annotations

import io
import warnings

import ipfshttpclient
import ipfshttpclient.exceptions

from .cid import file_cid
from .errors import CidMismatch, IpfsUnavailable

# ipfshttpclient passes urllib3 an argument it deprecated; the warning says nothing to our users.
warnings.filterwarnings("ignore", message="The 'strict' parameter", category=FutureWarning)


class Pinner:
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
        return IpfsUnavailable(f"cannot reach the IPFS node at {self.api} ({type(exc).__name__}: {exc}); "
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
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = self.client.add(io.BytesIO(data), raw_leaves=True, cid_version=1, pin=True,
                                         opts={"cid-base": "base32"})
        except ipfshttpclient.exceptions.Error as exc:
            raise self._unavailable(exc) from None
        cid = result["Hash"]
        if cid != expected:
            raise CidMismatch(f"the IPFS node at {self.api} returned {cid} for {len(data)} bytes "
                              f"whose CID is {expected}: refusing to commit it")
        return cid

    def cat(self, cid: str) -> bytes:
        """The bytes of `cid` (fails after the timeout rather than hanging on a missing block)."""
        try:
            return self.client.cat(cid, timeout=self.timeout)
        except ipfshttpclient.exceptions.Error as exc:
            raise self._unavailable(exc) from None

    def close(self) -> None:
        self.client.close()

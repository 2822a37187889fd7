"""Errors a user can act on: each message says what went wrong and what to do."""


class ChaosError(Exception):
    """Base of every error the CLI reports as one clear line (exit code 2)."""


class SetupError(ChaosError):
    """Something the renderer needs is missing or misconfigured."""


class ChainUnavailable(ChaosError):
    """The Ethereum RPC node cannot be reached."""


class IpfsUnavailable(ChaosError):
    """The IPFS (Kubo RPC) node cannot be reached."""


class CidMismatch(ChaosError):
    """An IPFS node returned a CID other than the one computed locally."""


class StoreError(ChaosError):
    """The job store is unreadable or belongs to another chain or canvas."""

"""The renderer's signing key: a raw private key or an encrypted keystore file."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from .errors import SetupError


def load_account(private_key: str | None = None, keystore: Path | None = None,
                 password: str | None = None) -> LocalAccount:
    """The account that signs commits; says how to provide one when none is given."""
    if private_key:
        try:
            return Account.from_key(private_key)
        except (ValueError, TypeError) as exc:
            raise SetupError(f"the renderer key is not a valid private key ({exc}); "
                             "give 32 bytes of hex in CHAOS_RENDERER_KEY or --key") from None
    if keystore:
        try:
            encrypted = json.loads(Path(keystore).read_text())
        except (OSError, ValueError) as exc:
            raise SetupError(f"cannot read keystore {keystore}: {exc}") from None
        if password is None:
            if not sys.stdin.isatty():
                raise SetupError("the keystore is encrypted: set CHAOS_KEYSTORE_PASSWORD or run in a terminal")
            password = getpass.getpass(f"password for {keystore}: ")
        try:
            return Account.from_key(Account.decrypt(encrypted, password))
        except ValueError:
            raise SetupError(f"wrong password for keystore {keystore}") from None
    raise SetupError("no renderer key: set CHAOS_RENDERER_KEY (hex private key) or CHAOS_KEYSTORE "
                     "(JSON keystore file, password in CHAOS_KEYSTORE_PASSWORD), or pass --key / --keystore")

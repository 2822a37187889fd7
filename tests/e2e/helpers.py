"""Wallets and small helpers for the end-to-end tests."""

from __future__ import annotations

from eth_account import Account

from renderer.devtools.demo import ANVIL_KEYS

RENDERER = Account.from_key(ANVIL_KEYS["renderer"])
COLLECTOR = Account.from_key(ANVIL_KEYS["collector"])
SECOND = Account.from_key(ANVIL_KEYS["second_collector"])


def committed(daemon, token_id, generation):
    return lambda: (job := daemon.store.job(token_id, generation)) is not None and job.state == "committed"


def commits_of(canvas, token_id):
    """(generation, cid) of every commit of a token (single or batched), in chain order."""
    return [(c["generation"], c["cid"]) for c in canvas.commits(token_id)]


def rpc(w3, method, *params):
    response = w3.provider.make_request(method, list(params))
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response["result"]

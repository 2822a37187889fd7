"""`chaos observe`, `chaos seal` and `chaos reveal`: the observer protocol and sealed layers.

Kept beside `renderer.cli` (which only registers them) so the shared CLI module stays small.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from .errors import ChaosError


def add_parsers(commands, node_options, key_options, store_options) -> None:
    observe = commands.add_parser(
        "observe", help="observe a token you hold: sign Observe(token, generation) and collapse its colours",
        description="Sign the EIP-712 message Observe(tokenId, generation) with the holder's key, locally, and "
                    "submit it to the canvas (from the holder's own account, or --submit-with another key, e.g. "
                    "a relayer's: the holder needs no gas). The daemon renders an 'observation' generation: the "
                    "picture graded to a palette collapsed from the holder's address and the chain's entropy.")
    observe.add_argument("token", type=int, help="token id")
    observe.add_argument("--submit-with", metavar="KEY",
                         help="hex private key of the account that sends the transaction (default: the holder)")
    node_options(observe)
    key_options(observe, "holder", env=False)

    seal = commands.add_parser(
        "seal", help="seal a secret layer into a token you hold, revealable after an unlock time",
        description="Draw a random salt, commit keccak256(abi.encode(layerPrompt, salt)) on the canvas with an "
                    "unlock time, and save the secret (prompt and salt) under --out/seal-secrets/ (printed): "
                    "`chaos reveal` reads it there. Keep that file: without it the layer cannot be revealed.")
    seal.add_argument("token", type=int, help="token id")
    seal.add_argument("--layer-prompt", required=True, help="the secret layer (at most 280 bytes of UTF-8)")
    when = seal.add_mutually_exclusive_group(required=True)
    when.add_argument("--unlock-in", type=int, metavar="SECONDS", help="seconds from the chain's current time")
    when.add_argument("--unlock-at", metavar="ISO", help="e.g. 2027-01-01T00:00:00Z (UTC unless it says otherwise)")
    node_options(seal)
    key_options(seal, "holder", env=False)
    store_options(seal)

    reveal = commands.add_parser(
        "reveal", help="reveal a token's sealed layer after its unlock time (anyone holding the secret)",
        description="Read the secret `chaos seal` saved under --out (or take --layer-prompt and --salt), check "
                    "it against the canvas's commitment and the unlock time, and reveal it: the daemon renders a "
                    "'reveal' generation that paints the layer into the picture.")
    reveal.add_argument("token", type=int, help="token id")
    reveal.add_argument("--layer-prompt", help="the sealed layer prompt (default: from the saved secret)")
    reveal.add_argument("--salt", help="the salt, 0x + 64 hex digits (default: from the saved secret)")
    node_options(reveal)
    key_options(reveal, "sender", env=False)
    store_options(reveal)


def _unlock_at(args: argparse.Namespace, now: int) -> int:
    if args.unlock_in is not None:
        if args.unlock_in <= 0:
            raise ChaosError(f"--unlock-in must be a positive number of seconds, not {args.unlock_in}")
        return now + args.unlock_in
    text = args.unlock_at.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ChaosError(f"--unlock-at {args.unlock_at!r} is not an ISO date and time, e.g. 2027-01-01T00:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _salt(text: str) -> bytes:
    try:
        salt = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ChaosError(f"--salt {text!r} is not hex: give 0x and 64 hex digits") from None
    if len(salt) != 32:
        raise ChaosError(f"--salt is {len(salt)} bytes; a salt is 32 bytes (0x + 64 hex digits)")
    return salt


def run(args: argparse.Namespace, settings, canvas_of, collector) -> int:
    """Run `observe`, `seal` or `reveal`; `canvas_of(settings)` and `collector(args, settings)` are the CLI's."""
    from . import wallet
    from .keys import load_account

    canvas = canvas_of(settings)
    account = collector(args, settings)
    if args.command == "observe":
        submitter = None
        if args.submit_with:
            submitter = load_account(args.submit_with)
        generation, tx = wallet.observe(canvas, account, args.token, submitter)
        print(f"observed token {args.token} as {account.address}: generation {generation} collapses its colours "
              f"(tx {tx})")
    elif args.command == "seal":
        now = canvas.w3.eth.get_block("latest")["timestamp"]
        unlock_at = _unlock_at(args, now)
        path, tx = wallet.seal(canvas, account, args.token, args.layer_prompt, unlock_at, settings.out_dir)
        print(f"sealed a layer into token {args.token}, unlocking at "
              f"{datetime.fromtimestamp(unlock_at, timezone.utc):%Y-%m-%dT%H:%M:%SZ} (tx {tx})")
        print(f"the secret (layer prompt and salt) is in {path}: keep it, `chaos reveal` reads it")
    else:
        from .sealed import load_secret

        prompt, salt = args.layer_prompt, _salt(args.salt) if args.salt else None
        wallet.revealable(canvas, args.token)  # says "no seal" or "too early" before asking for the secret
        if prompt is None or salt is None:
            found = load_secret(settings.out_dir, canvas.chain_id, canvas.address, args.token)
            if found is None:
                raise ChaosError(f"no saved secret for token {args.token} of {canvas.address} under "
                                 f"{settings.out_dir}/seal-secrets: give --out (where `chaos seal` saved it), "
                                 "or --layer-prompt and --salt")
            secret, _ = found
            prompt = prompt if prompt is not None else secret.layer_prompt
            salt = salt if salt is not None else secret.salt_bytes
        generation, tx = wallet.reveal(canvas, account, args.token, prompt, salt)
        print(f"revealed token {args.token}'s sealed layer {prompt!r}: generation {generation} paints it in (tx {tx})")
    return 0

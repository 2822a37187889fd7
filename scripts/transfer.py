"""Transfer a Chaos Canvas token (every transfer mutates it: its generation goes up by one).

    CHAOS_TOKEN=1 CHAOS_TO=0xRecipient brownie run scripts/transfer.py
    CHAOS_TOKEN=1 CHAOS_TO=0x... CHAOS_ACCOUNT=me CHAOS_CANVAS=0x... brownie run scripts/transfer.py --network sepolia

CHAOS_TOKEN    token id (required)
CHAOS_TO       recipient address (required)
CHAOS_ACCOUNT  id of a brownie keystore account, the token's owner or an approved operator;
               without it, accounts[0] of a development network
CHAOS_CANVAS   canvas address; without it, as in scripts/mint.py
"""

import os

from scripts.mint import account, canvas


def main():
    token, to = os.environ.get("CHAOS_TOKEN"), os.environ.get("CHAOS_TO")
    if not token or not token.isdigit() or not to:
        raise SystemExit("set CHAOS_TOKEN to a token id and CHAOS_TO to the recipient's address")
    c, sender = canvas(), account()
    owner = c.ownerOf(int(token))
    tx = c.safeTransferFrom["address,address,uint256"](owner, to, int(token), {"from": sender})
    event = tx.events["Mutated"]
    print(f"token {token}: {owner} -> {to}, now generation {event['generation']}")
    return tx

"""Hand-made chain events for tests that need no chain."""

from renderer.chain import CanvasEvent

MINTER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
#: The canvas address the unit tests' job stores are bound to (Anvil's first deployment).
CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def mint_event(token_id=1, prompt="a storm over the harbour", block=2, seed="0x" + "42" * 32):
    return CanvasEvent("mint", token_id, 0, block, "0x" + "b1" * 32, "0x" + "a1" * 32, 0,
                       {"minter": MINTER, "seed": seed, "prompt": prompt})


def mutation_event(token_id=1, generation=1, block=4, entropy="0x" + "e7" * 32):
    return CanvasEvent("mutation", token_id, generation, block, "0x" + "b2" * 32, "0x" + "a2" * 32, 1,
                       {"entropy": entropy, "from": MINTER, "to": "0x" + "90" * 20})


def recolour_event(token_id=1, generation=1, block=5):
    return CanvasEvent("recolour", token_id, generation, block, "0x" + "b3" * 32, "0x" + "a3" * 32, 2, {})

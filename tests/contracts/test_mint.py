"""mint(prompt): price, prompt bounds in UTF-8 bytes, supply cap, seed, Minted event, ids."""

import pytest


def test_constants(canvas, h):
    assert canvas.name() == "Chaos Canvas"
    assert canvas.symbol() == "CHAOS"
    assert canvas.mintPrice() == h.MINT_PRICE
    assert canvas.mutationPrice() == h.MUTATION_PRICE
    assert canvas.maxSupply() == h.MAX_SUPPLY
    assert canvas.MAX_PROMPT_BYTES() == h.MAX_PROMPT_BYTES
    assert canvas.totalMinted() == 0


def test_token_ids_start_at_one_and_increase(canvas, alice, bob):
    tx1 = canvas.mint("first", {"from": alice, "value": canvas.mintPrice()})
    tx2 = canvas.mint("second", {"from": bob, "value": canvas.mintPrice()})
    tx3 = canvas.mint("third", {"from": alice, "value": canvas.mintPrice()})
    assert (tx1.return_value, tx2.return_value, tx3.return_value) == (1, 2, 3)
    assert canvas.totalMinted() == 3
    assert canvas.ownerOf(1) == alice and canvas.ownerOf(2) == bob and canvas.ownerOf(3) == alice
    assert canvas.balanceOf(alice) == 2 and canvas.balanceOf(bob) == 1


def test_mint_takes_exact_price(canvas, alice, h):
    before = alice.balance()
    canvas.mint("paid", {"from": alice, "value": h.MINT_PRICE})
    assert canvas.balance() == h.MINT_PRICE
    assert alice.balance() == before - h.MINT_PRICE  # base fee 0, gas price 0


def test_minted_event(canvas, alice, h):
    prompt = "a lighthouse made of moths"
    tx = canvas.mint(prompt, {"from": alice, "value": h.MINT_PRICE})
    assert len(tx.events["Minted"]) == 1
    event = tx.events["Minted"][0]
    assert event["tokenId"] == 1
    assert event["minter"] == alice
    assert event["prompt"] == prompt
    assert bytes(event["seed"]) == h.expected_seed(tx, alice, 1, prompt)
    transfer = tx.events["Transfer"][0]
    assert (transfer["from"], transfer["to"], transfer["id"]) == (h.ZERO_ADDRESS, alice, 1)  # Solady's name
    # Transfer comes before Minted.
    assert [e.name for e in tx.events] == ["Transfer", "Minted"]


def test_mint_does_not_mutate(canvas, alice, h):
    tx = canvas.mint("still", {"from": alice, "value": h.MINT_PRICE})
    assert "Mutated" not in tx.events
    assert canvas.generationOf(1) == 0
    assert tuple(canvas.lastCommit(1)) == (False, 0, "")


def test_same_prompt_two_minters_different_seeds(canvas, alice, bob, h):
    prompt = "the same words"
    tx_a = canvas.mint(prompt, {"from": alice, "value": h.MINT_PRICE})
    tx_b = canvas.mint(prompt, {"from": bob, "value": h.MINT_PRICE})
    seed_a = bytes(tx_a.events["Minted"]["seed"])
    seed_b = bytes(tx_b.events["Minted"]["seed"])
    assert seed_a != seed_b
    assert seed_a == h.expected_seed(tx_a, alice, 1, prompt)
    assert seed_b == h.expected_seed(tx_b, bob, 2, prompt)
    # The minter alone changes the seed: the same block, token id and prompt from
    # another wallet hashes differently.
    assert h.expected_seed(tx_a, bob, 1, prompt) != seed_a


@pytest.mark.parametrize("delta", [-10**16, -1, 1, 10**16], ids=["zero", "one-wei-short", "one-wei-over", "double"])
def test_wrong_payment(canvas, alice, h, delta):
    sent = h.MINT_PRICE + delta
    with h.reverts_with("WrongPayment", sent, h.MINT_PRICE):
        canvas.mint("x", {"from": alice, "value": sent})
    assert canvas.totalMinted() == 0
    assert canvas.balance() == 0


def test_empty_prompt(canvas, alice, h):
    with h.reverts_with("EmptyPrompt"):
        canvas.mint("", {"from": alice, "value": h.MINT_PRICE})
    assert canvas.totalMinted() == 0


def test_prompt_of_max_bytes_is_accepted(canvas, alice, h):
    prompt = "p" * h.MAX_PROMPT_BYTES
    tx = canvas.mint(prompt, {"from": alice, "value": h.MINT_PRICE})
    assert tx.events["Minted"]["prompt"] == prompt
    assert canvas.ownerOf(1) == alice


def test_prompt_one_byte_too_long(canvas, alice, h):
    with h.reverts_with("PromptTooLong", h.MAX_PROMPT_BYTES + 1, h.MAX_PROMPT_BYTES):
        canvas.mint("p" * (h.MAX_PROMPT_BYTES + 1), {"from": alice, "value": h.MINT_PRICE})


@pytest.mark.parametrize("prompt", ["é" * 140, "🎨" * 70, "a" * 276 + "🎨", "日" * 93 + "a"])
def test_multibyte_prompt_at_limit(canvas, alice, h, prompt):
    assert len(prompt.encode()) == h.MAX_PROMPT_BYTES
    tx = canvas.mint(prompt, {"from": alice, "value": h.MINT_PRICE})
    assert tx.events["Minted"]["prompt"] == prompt


@pytest.mark.parametrize("prompt", ["é" * 141, "🎨" * 70 + "a", "a" * 279 + "é", "a" * 277 + "🎨"])
def test_multibyte_prompt_counted_in_bytes(canvas, alice, h, prompt):
    # Every one of these has at most 280 characters but more than 280 bytes.
    assert len(prompt) <= h.MAX_PROMPT_BYTES < len(prompt.encode())
    with h.reverts_with("PromptTooLong", len(prompt.encode()), h.MAX_PROMPT_BYTES):
        canvas.mint(prompt, {"from": alice, "value": h.MINT_PRICE})


def test_prompt_checked_before_payment(canvas, alice, h):
    with h.reverts_with("EmptyPrompt"):
        canvas.mint("", {"from": alice, "value": 0})


def test_supply_cap(ChaosCanvas, admin, renderer, alice, bob, h):
    small = h.deploy_canvas(ChaosCanvas, admin, renderer, max_supply=2)
    assert h.mint(small, alice) == 1
    assert h.mint(small, bob) == 2
    with h.reverts_with("SupplyExhausted", 2):
        small.mint("one too many", {"from": alice, "value": h.MINT_PRICE})
    assert small.totalMinted() == 2
    assert small.balance() == 2 * h.MINT_PRICE


def test_supply_cap_counts_burnt_tokens(ChaosCanvas, admin, renderer, alice, h):
    small = h.deploy_canvas(ChaosCanvas, admin, renderer, max_supply=1)
    h.mint(small, alice)
    small.burn(1, {"from": alice})
    with h.reverts_with("SupplyExhausted", 1):
        small.mint("again", {"from": alice, "value": h.MINT_PRICE})


def test_zero_supply(ChaosCanvas, admin, renderer, alice, h):
    empty = h.deploy_canvas(ChaosCanvas, admin, renderer, max_supply=0)
    with h.reverts_with("SupplyExhausted", 0):
        empty.mint("nothing", {"from": alice, "value": h.MINT_PRICE})


def test_minted_comes_before_the_receivers_callback(canvas, CanvasTestReceiver, alice, bob, h):
    """Audit: `Minted` used to be emitted after `_safeMint`'s callback, so a receiver that moved the
    token logged a mutation before the mint. Now Minted precedes the callback, and a transfer in the
    mint's own block draws no generation."""
    receiver = CanvasTestReceiver.deploy(canvas, bob, {"from": alice})
    tx = receiver.mint("passed straight on", {"from": alice, "value": h.MINT_PRICE})
    names = [e.name for e in tx.events]
    assert names == ["Transfer", "Minted", "Transfer"]
    assert tx.events["Minted"][0]["minter"] == receiver
    assert canvas.ownerOf(1) == bob
    assert canvas.generationOf(1) == 0

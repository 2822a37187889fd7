import numpy as np
import pytest
from eth_hash.auto import keccak

from renderer.mask import apply_mask, changed_indices, changed_pixel_fraction, mask_digest, mask_size, mutation_mask

ENTROPY = bytes.fromhex("5a" * 32)


def reference_mask(entropy: bytes, width: int, height: int) -> list[int]:
    """The rule exactly as the module docstring states it, written plainly."""
    pixels = width * height
    wanted = max(1, pixels // 100)
    limit = 2**32 - (2**32 % pixels)
    chosen, counter = [], 0
    while len(chosen) < wanted:
        block = keccak(entropy + counter.to_bytes(4, "big"))
        counter += 1
        for i in range(8):
            word = int.from_bytes(block[4 * i:4 * i + 4], "big")
            if word < limit and word % pixels not in chosen and len(chosen) < wanted:
                chosen.append(word % pixels)
    return sorted(chosen)


@pytest.mark.parametrize("width,height", [(256, 256), (64, 48), (10, 10), (3, 7)])
def test_mask_follows_the_documented_rule(width, height):
    mask = mutation_mask(ENTROPY, width, height)
    assert mask.tolist() == reference_mask(ENTROPY, width, height)
    assert len(mask) == mask_size(width, height) == max(1, width * height // 100)
    assert len(set(mask.tolist())) == len(mask)
    assert mask.min() >= 0 and mask.max() < width * height


def test_mask_is_one_percent_at_default_size():
    assert len(mutation_mask(ENTROPY, 256, 256)) == 655


def test_different_entropy_gives_a_different_mask():
    other = mutation_mask(bytes(32), 256, 256)
    assert other.tolist() != mutation_mask(ENTROPY, 256, 256).tolist()
    assert mask_digest(other) != mask_digest(mutation_mask(ENTROPY, 256, 256))


def test_mask_rejects_short_entropy():
    with pytest.raises(ValueError, match="32 bytes"):
        mutation_mask(b"\x01" * 31, 16, 16)


def test_mask_digest_is_keccak_of_sorted_big_endian_indices():
    indices = np.array([5, 1, 300])
    expected = "0x" + keccak(b"".join(i.to_bytes(4, "big") for i in (1, 5, 300))).hex()
    assert mask_digest(indices) == expected


def test_apply_mask_changes_exactly_the_mask():
    rng = np.random.default_rng(1)
    parent = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    proposal = parent.copy()
    mask = mutation_mask(ENTROPY, 32, 32)
    proposal.reshape(-1, 3)[mask[: len(mask) // 2]] = 7  # half the mask proposes new colours
    proposal.reshape(-1, 3)[:5] = 200  # pixels outside the mask must be ignored (if not masked)
    child = apply_mask(parent, proposal, mask)
    assert changed_indices(parent, child).tolist() == mask.tolist()
    assert changed_pixel_fraction(parent, child) == len(mask) / (32 * 32)


def test_apply_mask_refuses_a_proposal_of_another_size():
    with pytest.raises(ValueError, match="differs"):
        apply_mask(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8), np.array([0]))


def test_keccak_stream_is_keccak256_of_key_and_counter():
    from eth_hash.auto import keccak as eth_keccak

    from renderer.hashing import derive_key, keccak, keccak_stream

    key = derive_key("stream", 7)
    words = keccak_stream(key, 21)
    raw = b"".join(eth_keccak(key + i.to_bytes(4, "big")) for i in range(3))
    assert words.tolist() == [int.from_bytes(raw[4 * i:4 * i + 4], "big") for i in range(21)]
    assert keccak(b"") == eth_keccak(b"") and keccak(b"abc" * 100) == eth_keccak(b"abc" * 100)



@pytest.mark.parametrize("width,height", [(1, 1), (20, 30), (97, 201)])
def test_the_mask_is_the_documented_rule_for_many_entropies(width, height):
    for first in range(4):
        entropy = bytes([first]) + bytes(range(31))
        assert mutation_mask(entropy, width, height).tolist() == reference_mask(entropy, width, height)

"""The carbon-14 probe over hand-made histories: known masks give known births and repaints, whichever
of a generation's age layer or its event's entropy says which pixels it painted."""

from __future__ import annotations

import json
from itertools import count

import numpy as np
import pytest
from eth_hash.auto import keccak

from renderer.cid import file_cid
from renderer.mask import mutation_mask
from renderer.memory import AgeLayer, replay_layer
from renderer.probe import OutsideImage, ProbeCache, ProbeError, TokenAges, parse_pixel
from renderer.provenance import GenerationRecord, TokenHistory

from .events import mint_event, mutation_event, recolour_event

WIDTH, HEIGHT = 16, 12  # masks of max(1, 192 // 100) = 1 pixel: easy to aim
PIXEL = (5, 7)
FLAT = PIXEL[1] * WIDTH + PIXEL[0]


def _entropy(hits: bool, skip: set[bytes]) -> bytes:
    """The first entropy (keccak of a counter) whose mask holds PIXEL (hits) or does not."""
    for i in count():
        entropy = keccak(b"probe" + i.to_bytes(4, "big"))
        if entropy not in skip and (FLAT in mutation_mask(entropy, WIDTH, HEIGHT)) == hits:
            return entropy


def _history(layer_generations: set[int] | None = None, forge: dict | None = None) -> tuple[TokenHistory, dict]:
    """Generations: 0 mint, 1 mutation over PIXEL, 2 recolour, 3 mutation elsewhere, 4 mutation over PIXEL,
    5 recolour. Records carry their age layers (only those in `layer_generations`, when given)."""
    used: set[bytes] = set()
    entropies = {}
    for generation, hits in ((1, True), (3, False), (4, True)):
        entropies[generation] = _entropy(hits, used)
        used.add(entropies[generation])
    events = {0: mint_event(block=2)}
    for generation in range(1, 6):
        block = 10 + generation
        if generation in entropies:
            event = mutation_event(generation=generation, block=block, entropy="0x" + entropies[generation].hex())
        else:
            event = recolour_event(generation=generation, block=block)
        events[generation] = type(event)(**{**event.__dict__, "tx_hash": f"0x{generation:064x}"})
    mutations = [(g, e) for g, e in entropies.items()]
    records = []
    for generation in range(6):
        layer = replay_layer(WIDTH, HEIGHT, generation, mutations)
        if forge and generation in forge:
            layer = forge[generation](layer)
        data = layer.encode()
        cid = file_cid(data)
        keep = layer_generations is None or generation in layer_generations
        records.append(GenerationRecord(generation, f"meta-{generation}", b"{}", {}, age_layer_cid=cid,
                                        age_layer=data if keep else None))
    return TokenHistory(1, events, [], records), entropies


def test_known_masks_give_known_births_and_repaints():
    history, _ = _history()
    ages = TokenAges(history)
    answer = ages.probe(*PIXEL, generation=5)
    assert (answer.born.generation, answer.born.kind, answer.born.block) == (4, "mutation", 14)
    assert answer.born.tx == f"0x{4:064x}"
    assert (answer.repaints, answer.age, answer.width, answer.height) == (2, 1, WIDTH, HEIGHT)
    assert [(p.generation, p.kind, p.source) for p in answer.events] == [
        (0, "mint", "mint"), (1, "mutation", "age layer"), (4, "mutation", "age layer")]
    assert answer.source.startswith("age layer ") and answer.notes == []
    # Seen from generation 3: the repaint of generation 4 has not happened yet.
    earlier = ages.probe(*PIXEL, generation=3)
    assert (earlier.born.generation, earlier.repaints, earlier.age) == (1, 1, 2)
    assert [p.generation for p in earlier.events] == [0, 1]
    # The latest rendered generation by default; generation 4 painted the pixel itself: age 0.
    assert ages.probe(*PIXEL).generation == 5
    assert ages.probe(*PIXEL, generation=4).age == 0


def test_a_pixel_no_mutation_touched_is_as_old_as_the_mint():
    history, entropies = _history()
    painted = set().union(*(mutation_mask(e, WIDTH, HEIGHT).tolist() for e in entropies.values()))
    untouched = next(i for i in range(WIDTH * HEIGHT) if i not in painted)
    answer = TokenAges(history).probe(untouched % WIDTH, untouched // WIDTH, generation=5)
    assert (answer.born.generation, answer.born.kind, answer.repaints, answer.age) == (0, "mint", 0, 5)
    assert [p.generation for p in answer.events] == [0]


def test_without_the_layers_the_masks_from_the_entropies_say_the_same():
    layered = TokenAges(_history()[0]).probe(*PIXEL, generation=5)
    history, _ = _history(layer_generations={0})  # IPFS served only the mint's layer
    answer = TokenAges(history).probe(*PIXEL, generation=5)
    assert (answer.born.generation, answer.repaints, answer.age) == (4, 2, 1)
    assert [(p.generation, p.source) for p in answer.events] == [(0, "mint"), (1, "mask"), (4, "mask")]
    assert answer.source == "masks" and answer.notes == []
    assert [p.generation for p in answer.events] == [p.generation for p in layered.events]


def test_a_layer_whose_bytes_do_not_hash_to_its_cid_is_not_believed():
    history, _ = _history()
    record = history.record(4)
    record.age_layer = AgeLayer.fresh(WIDTH, HEIGHT, 4).encode()  # other bytes under the same CID
    answer = TokenAges(history).probe(*PIXEL, generation=4)
    assert answer.events[-1].source == "mask" and answer.source == "masks"
    assert (answer.born.generation, answer.repaints) == (4, 2)


def test_a_layer_that_disagrees_with_the_masks_is_reported():
    def forged(layer):  # generation 5's layer claims the pixel was never repainted
        born, counts = layer.born.copy(), layer.count.copy()
        born[PIXEL[1], PIXEL[0]], counts[PIXEL[1], PIXEL[0]] = 0, 0
        return AgeLayer(layer.generation, born, counts)

    history, _ = _history(forge={5: forged})
    answer = TokenAges(history).probe(*PIXEL, generation=5)
    assert (answer.born.generation, answer.repaints) == (0, 0)  # what the layer says, shown as such
    assert len(answer.notes) == 1 and "born 4, repainted 2 times" in answer.notes[0]
    assert "chaos verify 1" in answer.notes[0]


@pytest.mark.parametrize("pixel", [(WIDTH, 0), (0, HEIGHT), (WIDTH + 100, HEIGHT + 5)])
def test_a_probe_outside_the_image_names_its_size(pixel):
    history, _ = _history()
    with pytest.raises(OutsideImage, match=rf"outside the {WIDTH} x {HEIGHT} image: x must be 0 to {WIDTH - 1} "
                                           rf"and y 0 to {HEIGHT - 1}"):
        TokenAges(history).probe(*pixel)


def test_a_generation_the_chain_never_had_is_an_error():
    history, _ = _history()
    with pytest.raises(ProbeError, match="has generations 0 to 5 on-chain; there is no generation 6"):
        TokenAges(history).probe(*PIXEL, generation=6)


@pytest.mark.parametrize("text", ["5", "5,", "a,b", "-1,3", "1,2,3", "1.5,2", ""])
def test_a_pixel_is_two_whole_numbers(text):
    with pytest.raises(ValueError, match="a pixel is X,Y with whole numbers"):
        parse_pixel(text)
    assert parse_pixel(" 12, 40") == (12, 40)


def test_the_cache_reads_each_layer_once_across_probes():
    history, _ = _history()
    cache = ProbeCache()
    TokenAges(history, cache).probe(*PIXEL)
    for record in history.records:  # nothing left to read: the cache answers
        record.age_layer = None
    again = TokenAges(history, cache).probe(*PIXEL)
    assert again.source.startswith("age layer ") and [p.source for p in again.events][1:] == ["age layer"] * 2


def test_the_answer_as_json_and_as_text():
    answer = TokenAges(_history()[0]).probe(*PIXEL, generation=5)
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["born"]["generation"] == 4 and data["repaints"] == 2 and len(data["events"]) == 3
    text = answer.to_text()
    assert "pixel (5, 7) of generation 5 (16 x 12)" in text and "born at generation 4 (mutation, block 14" in text
    assert "repainted 2 times" in text and "1 generation old" in text


def test_images_size_comes_from_the_png_when_no_layer_is_readable():
    from renderer.png import encode_png

    history, _ = _history(layer_generations=set())
    history.records[-1].image_png = encode_png(np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8))
    answer = TokenAges(history).probe(*PIXEL, generation=5)
    assert (answer.width, answer.height, answer.born.generation) == (WIDTH, HEIGHT, 4)


def _as_kind(history, generation, kind, args):
    event = history.events[generation]
    history.events[generation] = type(event)(**{**event.__dict__, "kind": kind, "args": args})


@pytest.mark.parametrize("kind", ["reveal", "observation"])
def test_kinds_that_carry_the_age_layer_paint_no_pixel_even_without_their_layer(kind):
    pytest.importorskip("renderer.sealed", reason="renderer.sealed (the observer helper's reveal) has not landed")
    history, _ = _history(layer_generations={0, 1, 3, 4, 5})  # generation 2's layer is not on IPFS
    _as_kind(history, 2, kind, {"entropy": "0x" + "5e" * 32, "layer_prompt": "a red door", "observer": "0x" + "0b" * 20})
    answer = TokenAges(history).probe(*PIXEL, generation=5)
    assert [p.generation for p in answer.events] == [0, 1, 4] and answer.notes == []


def test_a_revealed_layer_is_listed_as_blended_where_its_disc_covers_the_pixel():
    sealed = pytest.importorskip("renderer.sealed", reason="renderer.sealed (the observer helper's reveal) has not landed")
    history, _ = _history()
    entropy = "0x" + "5e" * 32
    _as_kind(history, 2, "reveal", {"entropy": entropy, "layer_prompt": "a red door"})
    alpha = sealed.reveal_weights(bytes.fromhex(entropy[2:]), WIDTH, HEIGHT)
    inside = np.unravel_index(int(np.argmax(alpha)), alpha.shape)
    outside = np.argwhere(alpha == 0)
    ages = TokenAges(history)
    answer = ages.probe(int(inside[1]), int(inside[0]), generation=5)
    (blend,) = answer.blended
    assert (blend.generation, blend.kind, blend.alpha, blend.layer) == (2, "reveal", int(alpha.max()), "a red door")
    assert "blended over it, its birth unchanged: generation 2 reveal" in answer.to_text()
    assert ages.probe(int(inside[1]), int(inside[0]), generation=1).blended == []  # not revealed yet
    if len(outside):
        assert ages.probe(int(outside[0][1]), int(outside[0][0]), generation=5).blended == []


def test_a_kind_with_no_known_mask_and_no_layer_is_reported_unknown():
    history, _ = _history(layer_generations={0, 1, 3, 4, 5})
    event = history.events[2]
    history.events[2] = type(event)(**{**event.__dict__, "kind": "phoenix"})
    answer = TokenAges(history).probe(*PIXEL, generation=5)
    assert (answer.born.generation, answer.repaints) == (4, 2)  # still generation 5's layer
    assert len(answer.notes) == 1 and answer.notes[0].startswith("generation 2 (phoenix): its age layer is not readable")

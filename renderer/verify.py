"""`chaos verify TOKEN`: check a token's whole evolution from the chain and IPFS alone.

For every generation, walking the metadata's parent links down from the latest commit:

  metadata-cid   the metadata bytes hash to the CID they were fetched by
  metadata-json  they are JSON with a provenance block
  chain-event    provenance agrees with the chain: chain id, canvas, token, generation, kind,
                 seed, minter and prompt of Minted, entropy of this generation's Mutated event,
                 and the event's transaction
  parent-link    generation 0 has no parent; every other generation's parent is generation - 1
  image-cid      the image named by the metadata exists and hashes to its CID
  mask           (mutations) the pixels that differ from the parent are exactly the mask
                 recomputed from the chain's entropy (renderer.mask.mutation_mask); re-colourings
                 have no mask: they are checked by re-rendering
  age-layer      the age layer the metadata names is the one recomputed from the chain's
                 mutation entropies (renderer.memory.replay_layer)
  colour         the pool state and pigment the palette was drawn from are what the colour
                 pools (holding the canvas's POOLS_ROLE) said at the event's block
  rerender       (deterministic backends) rendering again from the chain's inputs and the
                 inputs the metadata records (telemetry, phoenix, colour) gives the same image and
                 metadata bytes
  commit         every CID the canvas ever committed for the token is the one on this walk

Any failure names its generation and check; the command then exits with code 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backends import BACKENDS
from .chain import Canvas
from .cid import file_cid
from .colour import read_colour_inputs
from .mask import changed_indices, mask_digest, mutation_mask
from .memory import replay_layer
from .png import decode_png
from .pools import pools_abi
from .provenance import GenerationRecord, TokenHistory, load_history
from .render import Origin, Parent, recorded_inputs, render


@dataclass(frozen=True)
class Check:
    generation: int
    name: str
    ok: bool
    detail: str = ""


def _deterministic_backend(model_id: str | None):
    for factory in BACKENDS.values():
        if getattr(factory, "model_id", None) == model_id and getattr(factory, "deterministic", False):
            return factory()
    return None


class Verifier:
    def __init__(self, canvas: Canvas, history: TokenHistory):
        self.canvas = canvas
        self.history = history
        self.checks: list[Check] = [Check(g, check, False, detail) for g, check, detail in history.problems]

    def _check(self, generation: int, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(generation, name, bool(ok), "" if ok else detail))
        return bool(ok)

    def run(self, rerender: bool = True) -> list[Check]:
        records = self.history.records
        if not self.history.commits:
            self._check(0, "commit", False, "nothing committed yet: the token has not been rendered")
            return self.checks
        for record in records:
            parent = self.history.record(record.generation - 1)
            self._verify_generation(record, parent, rerender)
        self._verify_commits()
        return self.checks

    def _verify_generation(self, record: GenerationRecord, parent: GenerationRecord | None, rerender: bool) -> None:
        g = record.generation
        self._check(g, "metadata-cid", file_cid(record.metadata_bytes) == record.metadata_cid,
                    f"bytes fetched for {record.metadata_cid} hash to {file_cid(record.metadata_bytes)}")
        if not self._check(g, "metadata-json", record.metadata is not None and record.provenance,
                           "metadata is not JSON with a provenance block"):
            return
        event = self.history.events.get(g)
        if not self._check(g, "chain-event", event is not None, f"the chain has no event for generation {g}"):
            return
        self._verify_against_chain(record, event)
        self._verify_parent_link(record, parent)
        image = self._verify_image(record)
        if event.kind == "mutation" and image is not None and parent is not None and parent.image_png:
            self._verify_mask(record, event, decode_png(parent.image_png), image)
        if image is not None:
            self._verify_age_layer(record, image)
        self._verify_colour(record, event)
        if rerender:
            self._verify_rerender(record, parent, event)

    def _verify_against_chain(self, record: GenerationRecord, event) -> None:
        p, mint = record.provenance, self.history.events[0]
        expected = {"chain_id": self.canvas.chain_id, "canvas": self.canvas.address,
                    "token_id": self.history.token_id, "generation": record.generation, "kind": event.kind,
                    "seed": mint.args["seed"], "minter": mint.args["minter"], "prompt": mint.args["prompt"],
                    "entropy": event.args.get("entropy")}
        wrong = {k: (p.get(k), v) for k, v in expected.items() if p.get(k) != v}
        if (p.get("event") or {}).get("tx_hash") != event.tx_hash:
            wrong["event.tx_hash"] = ((p.get("event") or {}).get("tx_hash"), event.tx_hash)
        self._check(record.generation, "chain-event", not wrong,
                    "; ".join(f"{k}: metadata says {got!r}, chain says {want!r}" for k, (got, want) in wrong.items()))

    def _verify_parent_link(self, record: GenerationRecord, parent: GenerationRecord | None) -> None:
        g, link = record.generation, record.provenance.get("parent")
        if g == 0:
            self._check(0, "parent-link", link is None, f"generation 0 names a parent ({link})")
            return
        committed = {c["generation"]: c["cid"] for c in self.history.commits}.get(g - 1)
        if committed is not None:
            # The chain fixed generation g-1: the link must point at exactly that commit.
            self._check(g, "parent-link", link == committed,
                        f"parent {link} is not {committed}, which the canvas committed for generation {g - 1}")
        else:  # g-1 was superseded before its commit: it must at least be this token's g-1
            p = parent.provenance if parent else {}
            self._check(g, "parent-link", parent is not None and link == parent.metadata_cid
                        and p.get("generation") == g - 1 and p.get("token_id") == self.history.token_id,
                        f"parent {link} is not generation {g - 1} of token {self.history.token_id}")

    def _verify_image(self, record: GenerationRecord) -> np.ndarray | None:
        g = record.generation
        if not self._check(g, "image-cid", record.image_png is not None,
                           f"image {record.image_cid} cannot be fetched from IPFS"):
            return None
        if not self._check(g, "image-cid", file_cid(record.image_png) == record.image_cid
                           == (record.provenance.get("image") or {}).get("cid"),
                           f"image bytes hash to {file_cid(record.image_png)}, metadata names {record.image_cid}"):
            return None
        try:
            return decode_png(record.image_png)
        except Exception as exc:  # a tampered or truncated PNG
            self._check(g, "image-cid", False, f"image is not a PNG: {exc}")
            return None

    def _verify_mask(self, record: GenerationRecord, event, before: np.ndarray, after: np.ndarray) -> None:
        g = record.generation
        if not self._check(g, "mask", before.shape == after.shape, f"size changed {before.shape} -> {after.shape}"):
            return
        height, width, _ = after.shape
        mask = mutation_mask(bytes.fromhex(event.args["entropy"][2:]), width, height)
        changed = changed_indices(before, after)
        outside = np.setdiff1d(changed, mask)
        untouched = np.setdiff1d(mask, changed)
        self._check(g, "mask", len(outside) == 0 and len(untouched) == 0,
                    f"{len(outside)} pixel(s) changed outside the mask, {len(untouched)} mask pixel(s) unchanged")
        self._check(g, "mask", (record.provenance.get("mask") or {}).get("digest") == mask_digest(mask),
                    "the metadata's mask digest is not the digest of the recomputed mask")

    def _replayed_layer(self, generation: int, width: int, height: int):
        """The age layer of `generation`, from the chain's mutation entropies alone."""
        mutations = [(g, bytes.fromhex(e.args["entropy"][2:])) for g, e in self.history.events.items()
                     if e.kind == "mutation"]
        return replay_layer(width, height, generation, mutations)

    def _verify_age_layer(self, record: GenerationRecord, image: np.ndarray) -> None:
        memory = record.provenance.get("memory")
        if not memory:
            return  # rendered before mutation memory existed
        height, width, _ = image.shape
        expected = file_cid(self._replayed_layer(record.generation, width, height).encode())
        named = (memory.get("age_layer") or {}).get("cid")
        self._check(record.generation, "age-layer", named == expected,
                    f"the metadata names age layer {named}; the chain's mutations give {expected}")

    def _verify_colour(self, record: GenerationRecord, event) -> None:
        recorded = record.provenance.get("colour")
        if not recorded:
            return
        g = record.generation
        if not self._check(g, "colour", recorded.get("block") == event.block_number,
                           f"colours read at block {recorded.get('block')}, the event is in {event.block_number}"):
            return
        w3 = self.canvas.w3
        try:
            pools = w3.eth.contract(address=recorded["pools"], abi=pools_abi())
            role = self.canvas.contract.functions.POOLS_ROLE().call()
            holds = self.canvas.contract.functions.hasRole(role, pools.address).call(
                block_identifier=event.block_number)
            on_chain = read_colour_inputs(pools, self.history.token_id, event.block_number).to_provenance()
        except Exception as exc:  # a node without that block's state, or no pools contract there
            self._check(g, "colour", False, f"the node cannot say what the pools held at block "
                                            f"{event.block_number}: {type(exc).__name__}: {exc}")
            return
        if not self._check(g, "colour", holds, f"{recorded['pools']} did not hold the canvas's POOLS_ROLE"):
            return
        wrong = sorted(k for k in on_chain if on_chain[k] != recorded.get(k))
        self._check(g, "colour", not wrong, f"the metadata's {', '.join(wrong)} differ from the pools' "
                                            f"state at block {event.block_number}")

    def _verify_rerender(self, record: GenerationRecord, parent: GenerationRecord | None, event) -> None:
        model = (record.provenance.get("renderer") or {}).get("model")
        backend = _deterministic_backend(model)
        if backend is None:
            return  # a non-deterministic model (diffusion on a GPU) cannot be re-rendered bit for bit
        parent_input = None
        if parent and parent.image_png:
            layer = None
            if parent.provenance.get("memory"):
                height, width, _ = decode_png(parent.image_png).shape
                layer = self._replayed_layer(parent.generation, width, height).encode()
            parent_input = Parent(parent.image_png, parent.metadata_cid, layer)
        if event.kind != "mint" and parent_input is None:
            return
        again = render(event, Origin.from_mint(self.history.events[0]), parent_input, backend,
                       chain_id=self.canvas.chain_id, canvas=self.canvas.address,
                       **recorded_inputs(record.provenance))
        self._check(record.generation, "rerender", again.image_cid == record.image_cid,
                    f"re-rendering gives image {again.image_cid}, not {record.image_cid}")
        self._check(record.generation, "rerender", again.metadata_cid == record.metadata_cid,
                    f"re-rendering gives metadata {again.metadata_cid}, not {record.metadata_cid}")

    def _verify_commits(self) -> None:
        walked = {r.generation: r.metadata_cid for r in self.history.records}
        for commit in self.history.commits:
            g = commit["generation"]
            self._check(g, "commit", walked.get(g) == commit["cid"],
                        f"the canvas committed {commit['cid']} for generation {g}, which is not on the token's "
                        f"metadata chain ({walked.get(g)})")


def verify_token(canvas: Canvas, ipfs, token_id: int, from_block: int = 0, rerender: bool = True) -> list[Check]:
    return Verifier(canvas, load_history(canvas, ipfs, token_id, from_block)).run(rerender)


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]

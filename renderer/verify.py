"""`chaos verify`: check a token's evolution, one generation at a time, from the chain and IPFS alone.

Each generation the token's commits reach (`provenance.load_history`: every commit, then the
parent links of its metadata down to the previous commit) is checked on its own:

  metadata-cid   the metadata bytes hash to the CID they were fetched by
  metadata-json  they are JSON with a provenance block
  chain-event    provenance agrees with the chain: chain id, canvas, token, generation, kind,
                 seed, minter and prompt of Minted, entropy of this generation's Mutated event,
                 and the event's transaction
  parent-link    generation 0 has no parent; every other generation's parent is generation - 1:
                 the CID the canvas committed for it, or the one this walk reached
  image-cid      the image named by the metadata exists and its bytes hash to its CID: the CID
                 proves the committed bytes
  mask           (mutations) the pixels that differ from the parent are exactly the mask
                 recomputed from the chain's entropy (renderer.mask.mutation_mask); (reveals) they
                 all lie in the reveal's disc (renderer.sealed.reveal_weights), whose digest matches
  observer       (observations) the observer the metadata names is the event's, and the signature in
                 the observe transaction's calldata recovers (EIP-712) to the token's owner at that block
  reveal         (reveals) the layer prompt the metadata names is the event's, and the prompt and salt
                 in the reveal transaction's calldata hash to the commitment the token sealed
  age-layer      the age layer the metadata names is pinned, hashes to its CID, and decodes to the
                 layer recomputed from the chain's mutation entropies (renderer.memory.replay_layer)
  colour         the pool state and pigment the palette was drawn from are what the colour
                 pools (holding the canvas's POOLS_ROLE) said at the event's block
  rerender       (deterministic backends) rendering again from the chain's inputs and the inputs
                 the metadata records gives the same decoded pixels, and the same metadata field by
                 field once the image and age-layer CIDs are those of the pinned bytes. Compressed
                 bytes are never compared: they depend on the zlib build.
  commit         the commit landed no earlier than the event it renders
  congestion     (mutations) the base fee the metadata records is the one in the block header of the
                 event's block, and the glitch strength is the curve's for it and the recorded
                 threshold (renderer.congestion); metadata with an animation_url comes from a renderer
                 that records congestion, so a mutation of it without the record fails too
  animation      the animation_url is pinned, hashes to its CID, and its frames are the pinned images of
                 the newest generations, as many as renderer.animation keeps (the parent's frames + 1)
  external-url   when present, an http(s) link ending in the token's gallery route (#/token/<id>)

A generation's verdict is `verified`, `not-checkable` (every check passed, but its backend is not
deterministic, so its pixels could not be re-derived), `forged` (a check failed; the verdict names
the checks and the commit's transaction) or `unverifiable` (IPFS cannot serve what the commit names,
or no parent link reaches the generation). A forged generation leaves the others' verdicts alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from .animation import FRAMES, animation_parts, decode_frames
from .backends import BACKENDS
from .chain import Canvas
from .cid import file_cid
from .colour import read_colour_inputs
from .congestion import congestion_strength, read_base_fee
from .mask import changed_indices, mask_digest, mutation_mask
from .observer import recover_observer
from .sealed import commitment_of, reveal_mask, reveal_weights
from .memory import AgeLayer, replay_layer
from .png import decode_png
from .pools import pools_abi
from .provenance import GenerationRecord, TokenHistory, load_history
from .render import Origin, Parent, recorded_inputs, render

#: Checks whose failure says "cannot be checked", not "is wrong".
UNAVAILABLE_CHECKS = frozenset({"metadata-available", "reachable"})
VERIFIED, NOT_CHECKABLE, FORGED, UNVERIFIABLE, PENDING = (
    "verified", "not-checkable", "forged", "unverifiable", "pending")


@dataclass(frozen=True)
class Check:
    generation: int
    name: str
    ok: bool
    detail: str = ""


@dataclass
class GenerationVerdict:
    """What verification concluded about one generation."""

    token_id: int
    generation: int
    status: str  # VERIFIED, NOT_CHECKABLE, FORGED, UNVERIFIABLE or PENDING
    metadata_cid: str | None
    committed: bool
    commit_tx: str | None  # the commit this generation was reached from (its own, or a later one's)
    checks: list[Check] = field(default_factory=list)
    note: str = ""  # why not checkable, or why pending

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return self.status in (VERIFIED, NOT_CHECKABLE, PENDING)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["checks"] = sorted({c.name for c in self.checks})
        data["failed"] = [{"check": c.name, "detail": c.detail} for c in self.failed]
        return data


def _deterministic_backend(model_id: str | None):
    for factory in BACKENDS.values():
        if getattr(factory, "model_id", None) == model_id and getattr(factory, "deterministic", False):
            return factory()
    return None


def _differing_fields(expected, actual, path: str = "") -> list[str]:
    """Dotted paths of the leaves where two JSON values differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [p for key in sorted(set(expected) | set(actual))
                for p in _differing_fields(expected.get(key, KeyError), actual.get(key, KeyError),
                                           f"{path}.{key}" if path else key)]
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [p for i, (e, a) in enumerate(zip(expected, actual)) for p in _differing_fields(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [path or "(the document)"]


def _same_layer(a: AgeLayer, b: AgeLayer) -> bool:
    return a.generation == b.generation and a.shape == b.shape and np.array_equal(a.born, b.born) \
        and np.array_equal(a.count, b.count)


class Verifier:
    """Checks every generation of one `TokenHistory`; `run` returns the checks, `verdicts` the conclusions."""

    def __init__(self, canvas: Canvas, history: TokenHistory):
        self.canvas = canvas
        self.history = history
        self.checks: list[Check] = [Check(g, check, False, detail) for g, check, detail in history.problems]
        self._not_checkable: dict[int, str] = {}
        self._not_rerendered: set[int] = set()
        self._pixel_cache: dict[int, np.ndarray | None] = {}

    def _check(self, generation: int, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(generation, name, bool(ok), "" if ok else detail))
        return bool(ok)

    def run(self, rerender: bool = True, generations: set[int] | None = None) -> list[Check]:
        """Check every generation reached (or only `generations`)."""
        for record in self.history.records:
            if generations is None or record.generation in generations:
                try:
                    self._verify_generation(record, self.history.record(record.generation - 1), rerender)
                except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
                    # Metadata is whatever a commit names: fields of the wrong type or shape are a
                    # failed check of that generation, never a crash of the verifier.
                    self._check(record.generation, "metadata-json", False,
                                f"the metadata's fields have unexpected types or shapes ({type(exc).__name__}: {exc})")
        if generations is not None:
            self.checks = [c for c in self.checks if c.generation in generations]
        return self.checks

    def verdicts(self, rerender: bool = True, generations: set[int] | None = None) -> list[GenerationVerdict]:
        """One verdict per generation: those the commits cover (or `generations`), then any not committed yet."""
        checks = self.run(rerender, generations)
        history = self.history
        last = history.committed_generation
        covered = set(range(last + 1)) if last is not None else set()
        if generations is not None:
            covered &= generations
        verdicts = []
        for g in sorted(covered | {c.generation for c in checks}):
            mine = [c for c in checks if c.generation == g]
            record = history.record(g)
            commit = record.commit if record else history.commit_of(g)
            failed = [c for c in mine if not c.ok]
            if (failed and all(c.name in UNAVAILABLE_CHECKS for c in failed)) or (record is None and not failed):
                status = UNVERIFIABLE
            elif failed:
                status = FORGED
            else:
                status = NOT_CHECKABLE if g in self._not_checkable else VERIFIED
            verdicts.append(GenerationVerdict(history.token_id, g, status, record.metadata_cid if record else None,
                                              bool(record and record.committed), commit and commit["tx_hash"],
                                              mine, self._not_checkable.get(g, "")
                                              or ("pixels not re-rendered (--no-rerender)" if g in self._not_rerendered
                                                  else "")))
        for g in sorted(history.events):
            if (last is None or g > last) and (generations is None or g in generations):
                verdicts.append(GenerationVerdict(history.token_id, g, PENDING, None, False, None,
                                                  note="on-chain, not committed yet"))
        return verdicts

    # ------------------------------------------------------------ one generation

    def _verify_generation(self, record: GenerationRecord, parent: GenerationRecord | None, rerender: bool) -> None:
        g = record.generation
        self._check(g, "metadata-cid", file_cid(record.metadata_bytes) == record.metadata_cid,
                    f"bytes fetched for {record.metadata_cid} hash to {file_cid(record.metadata_bytes)}")
        if not self._check(g, "metadata-json", isinstance(record.metadata, dict) and record.provenance,
                           "metadata is not JSON with a provenance block"):
            return
        event = self.history.events.get(g)
        if not self._check(g, "chain-event", event is not None, f"the chain has no event for generation {g}"):
            return
        self._verify_against_chain(record, event)
        self._verify_parent_link(record, parent)
        if record.committed:
            self._check(g, "commit", record.commit["block_number"] >= event.block_number,
                        f"committed in block {record.commit['block_number']}, before its event "
                        f"(block {event.block_number})")
        image = self._verify_image(record)
        mask_check = {"mutation": self._verify_mask, "reveal": self._verify_reveal_mask}.get(event.kind)
        if mask_check is not None and image is not None and parent is not None and parent.image_png:
            try:
                before = decode_png(parent.image_png)
            except Exception:  # the parent's own image-cid check reports it
                before = None
            if before is not None:
                mask_check(record, event, before, image)
        if event.kind == "observation":
            self._verify_observer(record, event)
        elif event.kind == "reveal":
            self._verify_reveal(record, event)
        if image is not None:
            self._verify_age_layer(record, parent, image)
        self._verify_colour(record, event)
        self._verify_congestion(record, event)
        self._verify_animation(record, parent, image)
        self._verify_external_url(record)
        model = (record.provenance.get("renderer") or {}).get("model")
        if _deterministic_backend(model) is None:
            # A non-deterministic model (diffusion on a GPU) cannot be re-rendered bit for bit.
            self._not_checkable[g] = f"model {model!r} is not deterministic: its pixels cannot be re-derived"
        elif rerender:
            self._verify_rerender(record, parent, event, image)
        else:
            self._not_rerendered.add(g)

    def _verify_against_chain(self, record: GenerationRecord, event) -> None:
        p, mint = record.provenance, self.history.events[0]
        expected = {"chain_id": self.canvas.chain_id, "canvas": self.canvas.address,
                    "token_id": self.history.token_id, "generation": record.generation, "kind": event.kind,
                    "seed": mint.args["seed"], "minter": mint.args["minter"], "prompt": mint.args["prompt"],
                    "entropy": event.args.get("entropy")}
        wrong = {k: (p.get(k), v) for k, v in expected.items() if p.get(k) != v}
        recorded_event = p.get("event") if isinstance(p.get("event"), dict) else {}
        if recorded_event.get("tx_hash") != event.tx_hash:
            wrong["event.tx_hash"] = (recorded_event.get("tx_hash"), event.tx_hash)
        self._check(record.generation, "chain-event", not wrong,
                    "; ".join(f"{k}: metadata says {got!r}, chain says {want!r}" for k, (got, want) in wrong.items()))

    def _verify_parent_link(self, record: GenerationRecord, parent: GenerationRecord | None) -> None:
        g, link = record.generation, record.provenance.get("parent")
        if g == 0:
            self._check(0, "parent-link", link is None, f"generation 0 names a parent ({link})")
            return
        committed = next((c["cid"] for c in self.history.commits if c["generation"] == g - 1), None)
        if committed is not None:
            # The chain fixed generation g-1: the link must point at exactly that commit.
            self._check(g, "parent-link", link == committed,
                        f"parent {link} is not {committed}, which the canvas committed for generation {g - 1}")
        else:  # g-1 was never committed: the walk followed this very link, which must name g-1 of this token
            p = parent.provenance if parent else {}
            self._check(g, "parent-link", parent is not None and link == parent.metadata_cid
                        and p.get("generation") == g - 1 and p.get("token_id") == self.history.token_id,
                        f"parent {link} is not generation {g - 1} of token {self.history.token_id} (it says "
                        f"generation {p.get('generation')} of token {p.get('token_id')})")

    def _verify_image(self, record: GenerationRecord) -> np.ndarray | None:
        g = record.generation
        if not self._check(g, "image-cid", record.image_png is not None,
                           f"image {record.image_cid} cannot be fetched from IPFS"):
            return None
        named = (record.provenance.get("image") or {}).get("cid")
        if not self._check(g, "image-cid", file_cid(record.image_png) == record.image_cid == named,
                           f"image bytes hash to {file_cid(record.image_png)}; the metadata names {record.image_cid} "
                           f"(image) and {named} (provenance)"):
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

    def _verify_reveal_mask(self, record: GenerationRecord, event, before: np.ndarray, after: np.ndarray) -> None:
        g = record.generation
        if not self._check(g, "mask", before.shape == after.shape, f"size changed {before.shape} -> {after.shape}"):
            return
        height, width, _ = after.shape
        disc = reveal_mask(reveal_weights(bytes.fromhex(event.args["entropy"][2:]), width, height))
        outside = np.setdiff1d(changed_indices(before, after), disc)
        self._check(g, "mask", len(outside) == 0, f"{len(outside)} pixel(s) changed outside the reveal's disc")
        self._check(g, "mask", (record.provenance.get("mask") or {}).get("digest") == mask_digest(disc),
                    "the metadata's mask digest is not the digest of the reveal's disc")

    def _call_of(self, event, function: str):
        """The decoded canvas call of the event's transaction, or None when it was not a direct call of
        `function` (e.g. submitted through another contract: then the calldata says nothing)."""
        tx = self.canvas.w3.eth.get_transaction(event.tx_hash)
        if tx["to"] is None or tx["to"].lower() != self.canvas.address.lower():
            return None
        try:
            called, args = self.canvas.contract.decode_function_input(tx["input"])
        except ValueError:
            return None
        return args if called.fn_name == function else None

    def _owner_before(self, event) -> str | None:
        """The token's owner just before the event's block (what the canvas checked the signer against:
        any earlier draw in that block would have made the observation revert)."""
        try:
            return self.canvas.contract.functions.ownerOf(self.history.token_id).call(
                block_identifier=event.block_number - 1)
        except Exception:  # a node without that state: the chain's events say who held it
            return self.history.owner_after(event.generation - 1)

    def _verify_observer(self, record: GenerationRecord, event) -> None:
        g, named = record.generation, (record.provenance.get("observation") or {}).get("observer")
        if not self._check(g, "observer", named == event.args["observer"],
                           f"the metadata names observer {named}, the chain's Observed event {event.args['observer']}"):
            return
        owner = self._owner_before(event)
        args = self._call_of(event, "observe")
        if args is None:
            self._check(g, "observer", owner == event.args["observer"],
                        f"observer {event.args['observer']} did not own the token (its owner was {owner})")
            return
        signer = recover_observer(args["signature"], self.canvas.chain_id, self.canvas.address,
                                  self.history.token_id, args["generation"])
        self._check(g, "observer", args["generation"] == g - 1 and signer == owner == event.args["observer"],
                    f"the observe transaction's signature (for generation {args['generation']}) recovers to {signer}; "
                    f"the token's owner was {owner}, the event names {event.args['observer']}")

    def _verify_reveal(self, record: GenerationRecord, event) -> None:
        g, named = record.generation, (record.provenance.get("reveal") or {}).get("layer_prompt")
        if not self._check(g, "reveal", named == event.args["layer_prompt"],
                           f"the metadata names revealed layer {named!r}, the chain's Revealed event "
                           f"{event.args['layer_prompt']!r}"):
            return
        sealed = [s for s in self.canvas.sealed_commitments(self.history.token_id)
                  if s["block_number"] <= event.block_number]
        args = self._call_of(event, "reveal")
        if args is None or not sealed:
            self._check(g, "reveal", bool(sealed), "the chain has no Sealed event before this reveal")
            return
        opened = "0x" + commitment_of(args["layerPrompt"], bytes(args["salt"])).hex()
        self._check(g, "reveal", opened == sealed[-1]["commitment"] and args["layerPrompt"] == named,
                    f"the revealed prompt and salt hash to {opened}, not the sealed commitment "
                    f"{sealed[-1]['commitment']}")

    def _replayed_layer(self, generation: int, width: int, height: int) -> AgeLayer:
        """The age layer of `generation`, from the chain's mutation entropies alone."""
        mutations = [(g, bytes.fromhex(e.args["entropy"][2:])) for g, e in self.history.events.items()
                     if e.kind == "mutation"]
        return replay_layer(width, height, generation, mutations)

    def _pinned_layer(self, record: GenerationRecord) -> AgeLayer | None:
        """The record's pinned age layer, when its bytes hash to the named CID and decode."""
        if record.age_layer is None or file_cid(record.age_layer) != record.age_layer_cid:
            return None
        try:
            return AgeLayer.decode(record.age_layer)
        except ValueError:
            return None

    def _verify_age_layer(self, record: GenerationRecord, parent: GenerationRecord | None, image: np.ndarray) -> None:
        memory = record.provenance.get("memory")
        if not memory:
            return  # rendered before mutation memory existed
        g = record.generation
        named = record.age_layer_cid
        if not self._check(g, "age-layer", record.age_layer is not None,
                           f"the age layer {named} the metadata names cannot be fetched from IPFS"):
            return
        if not self._check(g, "age-layer", file_cid(record.age_layer) == named,
                           f"the age layer's bytes hash to {file_cid(record.age_layer)}, not {named}"):
            return
        pinned = self._pinned_layer(record)
        height, width, _ = image.shape
        self._check(g, "age-layer", pinned is not None and _same_layer(pinned, self._replayed_layer(g, width, height)),
                    f"the age layer {named} is not the one the chain's mutations give")
        if parent is not None and parent.provenance.get("memory"):
            self._check(g, "age-layer", memory.get("parent_age_layer") == parent.age_layer_cid,
                        f"the metadata names parent age layer {memory.get('parent_age_layer')}, the parent's "
                        f"metadata {parent.age_layer_cid}")

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

    def _verify_congestion(self, record: GenerationRecord, event) -> None:
        g, recorded = record.generation, record.provenance.get("congestion")
        if recorded is None:
            self._check(g, "congestion", event.kind != "mutation" or "animation_url" not in record.metadata,
                        "the mutation records no congestion (its block's base fee), though its renderer records it")
            return
        if not self._check(g, "congestion", event.kind == "mutation" and isinstance(recorded, dict),
                           f"a {event.kind} records a congestion glitch: only mutations are glitched"):
            return
        try:
            base_fee, threshold = int(recorded["base_fee_wei"]), int(recorded["threshold_wei"])
            strength = recorded["strength"]
        except (KeyError, TypeError, ValueError):
            self._check(g, "congestion", False, f"the congestion record {recorded!r} lacks base_fee_wei, "
                                                "threshold_wei or strength")
            return
        try:
            header = read_base_fee(self.canvas.w3, event.block_number)
        except Exception as exc:  # the node lost the block (a reorg) or is down
            self._check(g, "congestion", False, f"the node cannot give block {event.block_number}'s header: "
                                                f"{type(exc).__name__}: {exc}")
            return
        self._check(g, "congestion", base_fee == header, f"the metadata's base fee {base_fee} wei is not the "
                                                         f"{header} wei of block {event.block_number}'s header")
        expected = congestion_strength(header, threshold) if threshold > 0 else None
        self._check(g, "congestion", strength == expected,
                    f"the glitch strength {strength!r} is not the curve's {expected} for base fee {header} wei "
                    f"over threshold {threshold} wei")

    def _pixels(self, record: GenerationRecord | None) -> np.ndarray | None:
        """The decoded pinned image of a record whose bytes hash to its CID (cached), else None."""
        if record is None or record.image_png is None or file_cid(record.image_png) != record.image_cid:
            return None
        cache = self._pixel_cache
        if record.generation not in cache:
            try:
                cache[record.generation] = decode_png(record.image_png)
            except Exception:
                cache[record.generation] = None
        return cache[record.generation]

    def _verify_animation(self, record: GenerationRecord, parent: GenerationRecord | None,
                          image: np.ndarray | None) -> None:
        g, named = record.generation, record.animation_cid
        if named is None:
            return  # rendered before animations existed
        if not self._check(g, "animation", record.animation is not None,
                           f"the animation {named} the metadata names cannot be fetched from IPFS"):
            return
        if not self._check(g, "animation", file_cid(record.animation) == named,
                           f"the animation's bytes hash to {file_cid(record.animation)}, not {named}"):
            return
        try:
            frames = decode_frames(record.animation)
        except Exception as exc:
            self._check(g, "animation", False, f"the animation {named} is not an APNG: {exc}")
            return
        # As many frames as renderer.animation keeps: the parent's frames (or its image) + this one.
        expected = 1
        if g > 0 and parent is not None:
            parent_frames = 1
            if parent.animation is not None and file_cid(parent.animation) == parent.animation_cid:
                try:
                    parent_frames = len(animation_parts(parent.animation)[1])
                except ValueError:
                    pass
            parent_pixels = self._pixels(parent)
            same_size = image is None or parent_pixels is None or parent_pixels.shape == image.shape
            expected = min(FRAMES, parent_frames + 1) if same_size else 1
        if not self._check(g, "animation", len(frames) == expected or (g > 0 and parent is None),
                           f"the animation has {len(frames)} frame(s), not the {expected} renderer.animation keeps"):
            return
        wrong = []
        for offset, frame in enumerate(frames):
            generation = g - len(frames) + 1 + offset
            pixels = self._pixels(self.history.record(generation))
            if pixels is None or pixels.shape != frame.shape or not np.array_equal(pixels, frame):
                wrong.append(generation)
        self._check(g, "animation", not wrong, "the animation's frames of generation(s) "
                                               f"{', '.join(map(str, wrong))} are not their pinned images")

    def _verify_external_url(self, record: GenerationRecord) -> None:
        link = record.metadata.get("external_url")
        if link is None:
            return
        route = f"/#/token/{self.history.token_id}"
        self._check(record.generation, "external-url", isinstance(link, str)
                    and link.startswith(("http://", "https://")) and link.endswith(route),
                    f"external_url {link!r} is not an http(s) link to the gallery's {route}")

    def _parent_input(self, parent: GenerationRecord) -> Parent:
        layer = None
        if parent.provenance.get("memory"):
            height, width, _ = decode_png(parent.image_png).shape
            replayed = self._replayed_layer(parent.generation, width, height)
            pinned = self._pinned_layer(parent)
            # The pinned bytes when they hold the chain's layer (so the re-render names the pinned CID
            # as its parent's), else the chain's layer itself.
            layer = parent.age_layer if pinned is not None and _same_layer(pinned, replayed) else replayed.encode()
        animation = parent.animation if parent.animation is not None \
            and file_cid(parent.animation) == parent.animation_cid else None
        return Parent(parent.image_png, parent.metadata_cid, layer, animation)

    def _verify_rerender(self, record: GenerationRecord, parent: GenerationRecord | None, event,
                         image: np.ndarray | None) -> None:
        g = record.generation
        if event.kind != "mint" and (parent is None or not parent.image_png):
            return  # nothing to render from: the parent's own checks say why
        try:
            parent_input = self._parent_input(parent) if event.kind != "mint" else None
            again = render(event, Origin.from_mint(self.history.events[0]), parent_input,
                           _deterministic_backend((record.provenance.get("renderer") or {}).get("model")),
                           chain_id=self.canvas.chain_id, canvas=self.canvas.address,
                           # external_url is the renderer's configured link, not art: checked on its own.
                           external_url=record.metadata.get("external_url"), **recorded_inputs(record.provenance))
        except Exception as exc:  # inputs the metadata records that no render accepts
            self._check(g, "rerender", False, f"re-rendering from the recorded inputs fails: "
                                              f"{type(exc).__name__}: {exc}")
            return
        expected_pixels = decode_png(again.image_png)
        same_pixels = image is not None and image.shape == expected_pixels.shape \
            and np.array_equal(image, expected_pixels)
        if image is None:
            detail = "the pinned image cannot be decoded"
        elif image.shape != expected_pixels.shape:
            detail = f"re-rendering gives a {expected_pixels.shape[1]}x{expected_pixels.shape[0]} image, " \
                     f"the pinned one is {image.shape[1]}x{image.shape[0]}"
        else:
            differ = int(np.any(image != expected_pixels, axis=-1).sum())
            detail = f"{differ} pixel(s) differ from the re-render"
        self._check(g, "rerender", same_pixels, detail)

        expected = json.loads(again.metadata)
        if same_pixels:  # the same picture: name the pinned bytes, whichever zlib compressed them
            expected["image"] = f"ipfs://{record.image_cid}"
            expected["provenance"]["image"]["cid"] = record.image_cid
        if record.animation is not None and again.animation_cid != record.animation_cid \
                and _same_frames(again.animation, record.animation):
            expected["animation_url"] = f"ipfs://{record.animation_cid}"  # the same frames, another zlib
        pinned_layer = self._pinned_layer(record)
        expected_memory = expected["provenance"].get("memory")
        if expected_memory and pinned_layer is not None and _same_layer(pinned_layer, AgeLayer.decode(again.age_layer)):
            expected_memory["age_layer"]["cid"] = record.age_layer_cid
        wrong = _differing_fields(expected, record.metadata)
        self._check(g, "rerender", not wrong, f"re-rendering gives other metadata: {', '.join(wrong[:8])}"
                                              + (f" and {len(wrong) - 8} more field(s)" if len(wrong) > 8 else ""))


def _same_frames(a: bytes, b: bytes) -> bool:
    try:
        first, second = decode_frames(a), decode_frames(b)
    except ValueError:
        return False
    return len(first) == len(second) and all(x.shape == y.shape and np.array_equal(x, y)
                                             for x, y in zip(first, second))


def verify_token(canvas: Canvas, ipfs, token_id: int, from_block: int = 0, rerender: bool = True) -> list[Check]:
    return Verifier(canvas, load_history(canvas, ipfs, token_id, from_block)).run(rerender)


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]

"""`chaos verify` and `chaos history` from the chain and IPFS alone: each generation verified on its
own, through commits and the parent links between them, and the forgeries they must catch."""

from __future__ import annotations

import io
import json
import types
import zlib
from pathlib import Path

import pytest
from PIL import Image

import renderer.memory
import renderer.png
from renderer import transactions, wallet
from renderer.age import age_layer_of
from renderer.audit import committed_cids
from renderer.cid import file_cid
from renderer.cli import main
from renderer.daemon import open_daemon
from renderer.ipfs import Pinner, Replicas
from renderer.mask import mutation_mask
from renderer.metadata import encode_metadata
from renderer.png import decode_png, encode_png
from renderer.provenance import load_history
from renderer.verdicts import verify_one
from renderer.verify import FORGED, NOT_CHECKABLE, VERIFIED, failures, verify_token

from .helpers import COLLECTOR, RENDERER, SECOND, committed

pytestmark = pytest.mark.e2e


def _cli_args(settings, token_id):
    return [str(token_id), "--rpc-url", settings.rpc_url, "--canvas", settings.canvas, "--ipfs-api", settings.ipfs_api]


def _statuses(canvas, pinner, token_id):
    return {v.generation: v.status for v in verify_one(canvas, pinner, token_id)}


def test_an_honest_history_verifies_and_is_shown(canvas, settings, ipfs_node, tmp_path, capsys):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "three generations")
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    wallet.transfer(canvas, SECOND, token_id, COLLECTOR.address)
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 2), poll_interval=0.1, timeout=60)

    checks = verify_token(canvas, Pinner(ipfs_node.api_multiaddr), token_id)
    assert not failures(checks)
    assert {c.name for c in checks} >= {"metadata-cid", "chain-event", "parent-link", "image-cid", "mask",
                                         "age-layer", "rerender"}
    assert {c.generation for c in checks} == {0, 1, 2}
    assert main(["verify", *_cli_args(settings, token_id)]) == 0
    out = capsys.readouterr().out
    assert "token %d: 3 generation(s): 3 verified" % token_id in out
    assert out.count(": verified") == 3

    animation = tmp_path / "evolution.png"
    assert main(["history", *_cli_args(settings, token_id), "--animation", str(animation)]) == 0
    table = capsys.readouterr().out
    assert "token %d: 3 generation(s)" % token_id in table
    assert SECOND.address in table and COLLECTOR.address in table
    assert table.count(f"{40 / 4096:.4%}") == 2  # two mutations of 1% of a 64 x 64 image
    with Image.open(animation) as img:
        assert getattr(img, "n_frames", 1) == 3


def _render_all(daemon, token_id, last):
    """Read, render and pin every generation up to `last`, committing nothing."""
    for _ in range(50):
        daemon.read_chain()
        daemon.render_ready()
        daemon.pin_ready()
        job = daemon.store.job(token_id, last)
        if job is not None and job.state == "pinned":
            return [daemon.store.job(token_id, g) for g in range(last + 1)]
    raise AssertionError(f"generation {last} of token {token_id} was never pinned")


def _commit(canvas, token_id, generation, cid) -> str:
    """Commit with the renderer's key, as the daemon (or a forger holding its key) would; the tx hash."""
    receipt = transactions.transact(canvas.w3, RENDERER, canvas.commit_call(token_id, generation, cid))
    return receipt["transactionHash"].to_0x_hex()


@pytest.fixture
def coalesced(canvas, settings):
    """A token with four generations (a mint and three transfers), all rendered and pinned by the daemon,
    none committed: the tests commit as a coalescing daemon would, only some generations."""
    token_id, _ = wallet.mint(canvas, COLLECTOR, "generations that share one commit")
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    wallet.transfer(canvas, SECOND, token_id, COLLECTOR.address)
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    daemon = open_daemon(settings, RENDERER)
    return token_id, _render_all(daemon, token_id, 3), daemon


def test_generations_between_commits_are_reached_through_parent_links(canvas, ipfs_node, coalesced, capsys,
                                                                      settings):
    token_id, jobs, daemon = coalesced
    pinner = Pinner(ipfs_node.api_multiaddr)
    _commit(canvas, token_id, 1, jobs[1].metadata_cid)  # 0 is only reached through 1's parent link
    tx = _commit(canvas, token_id, 3, jobs[3].metadata_cid)  # 2 only through 3's

    history = load_history(canvas, pinner, token_id)
    assert [(r.generation, r.metadata_cid, r.committed) for r in history.records] == \
        [(g, jobs[g].metadata_cid, g in (1, 3)) for g in range(4)]
    verdicts = verify_one(canvas, pinner, token_id)
    assert [(v.generation, v.status, v.committed) for v in verdicts] == \
        [(0, VERIFIED, False), (1, VERIFIED, True), (2, VERIFIED, False), (3, VERIFIED, True)]
    assert verdicts[2].commit_tx == verdicts[3].commit_tx == tx
    assert {c.name for c in verdicts[2].checks} >= {"chain-event", "mask", "rerender", "parent-link"}

    assert main(["history", *_cli_args(settings, token_id), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["generation"], r["kind"], r["committed"]) for r in rows] == \
        [(0, "mint", False), (1, "mutation", True), (2, "mutation", False), (3, "mutation", True)]

    # `chaos age` and the pin audit reach the generations between commits the same way.
    assert age_layer_of(canvas, pinner, token_id, 2) == (2, Path(jobs[2].image_path).with_suffix(".age").read_bytes())
    wanted = committed_cids(canvas, daemon.store, Replicas(ipfs_node.api_multiaddr))
    assert {job.metadata_cid for job in jobs} | {job.image_cid for job in jobs} <= set(wanted)


def test_an_intermediate_generation_must_match_its_event(canvas, ipfs_node, coalesced):
    """A commit whose parent links pass through a generation that names another event: that generation
    is forged, and the ones below it (which it links to honestly) still verify."""
    token_id, jobs, _ = coalesced
    pinner = Pinner(ipfs_node.api_multiaddr)
    forged_2 = json.load(open(jobs[2].metadata_path))
    forged_2["provenance"]["generation"] = 7
    forged_2_cid = pinner.pin(encode_metadata(forged_2))
    top = json.load(open(jobs[3].metadata_path))
    top["provenance"]["parent"] = forged_2_cid
    tx = _commit(canvas, token_id, 3, pinner.pin(encode_metadata(top)))

    verdicts = {v.generation: v for v in verify_one(canvas, pinner, token_id)}
    assert {g: v.status for g, v in verdicts.items()} == {0: VERIFIED, 1: VERIFIED, 2: FORGED, 3: FORGED}
    assert ("chain-event" in {c.name for c in verdicts[2].failed}) and verdicts[2].commit_tx == tx
    assert "generation: metadata says 7, chain says 2" in " ".join(c.detail for c in verdicts[2].failed)
    assert {c.name for c in verdicts[3].failed} == {"parent-link"}  # its parent is not generation 2


@pytest.fixture
def forgery(canvas, settings):
    """A token whose generation 0 the daemon committed honestly, and the honest render of
    generation 1, which the test forges and commits itself with the renderer's key."""
    decoy, _ = wallet.mint(canvas, COLLECTOR, "a decoy, whose CID a forger could commit")
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a target for forgers")
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=lambda: committed(daemon, token_id, 0)() and committed(daemon, decoy, 0)(),
               poll_interval=0.1, timeout=60)
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    daemon.read_chain(), daemon.render_ready(), daemon.pin_ready()  # pinned, not committed
    honest = daemon.store.job(token_id, 1)
    return token_id, honest, daemon, daemon.store.job(decoy, 0).metadata_cid


def _commit_forged(canvas, pinner, token_id, metadata: dict, image_png: bytes | None = None):
    if image_png is not None:
        image_cid = pinner.pin(image_png)
        metadata["image"] = f"ipfs://{image_cid}"
        metadata["provenance"]["image"]["cid"] = image_cid
    cid = pinner.pin(encode_metadata(metadata))
    _commit(canvas, token_id, 1, cid)
    return cid


def _failed(canvas, pinner, token_id):
    return {(c.generation, c.name) for c in failures(verify_token(canvas, pinner, token_id))}


def test_the_same_pixels_in_other_png_bytes_still_verify(canvas, ipfs_node, forgery):
    """The image CID proves the pinned bytes; the re-render proves their pixels. Bytes compressed
    another way (another encoder, another zlib) hold the same picture: nothing is forged."""
    token_id, honest, _, _ = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    buffer = io.BytesIO()
    Image.open(honest.image_path).save(buffer, format="PNG", compress_level=1)  # same pixels, other bytes
    assert file_cid(buffer.getvalue()) != honest.image_cid
    _commit_forged(canvas, pinner, token_id, json.load(open(honest.metadata_path)), buffer.getvalue())
    assert _failed(canvas, pinner, token_id) == set()


@pytest.fixture
def another_zlib(monkeypatch):
    """The verifier's PNG and age-layer encoders compress at level 1, as another zlib build (zlib-ng's
    compatible zlib, say) would give other bytes for the same data."""
    class OtherZlib(types.ModuleType):
        def __getattr__(self, name):
            return getattr(zlib, name)

        @staticmethod
        def compress(data, level=-1, wbits=zlib.MAX_WBITS):
            return zlib.compress(data, 1, wbits)

        @staticmethod
        def compressobj(level=-1, *args, **kwargs):
            # Level 1 with the default strategy: the renderer deflates with Z_RLE, whose output no level changes.
            return zlib.compressobj(1)

    other = OtherZlib("zlib")
    monkeypatch.setattr(renderer.png, "zlib", other)
    monkeypatch.setattr(renderer.memory, "zlib", other)


def test_an_honest_history_verifies_where_zlib_compresses_differently(canvas, ipfs_node, forgery, request):
    token_id, honest, _, _ = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    _commit(canvas, token_id, 1, pinner.pin(open(honest.metadata_path, "rb").read()))
    pinned = open(honest.image_path, "rb").read()
    request.getfixturevalue("another_zlib")
    assert file_cid(encode_png(decode_png(pinned))) != honest.image_cid  # this verifier's bytes differ
    assert _statuses(canvas, pinner, token_id) == {0: VERIFIED, 1: VERIFIED}


def test_a_changed_pixel_inside_the_mask_fails_the_re_render(canvas, ipfs_node, forgery, request):
    token_id, honest, _, _ = forgery
    request.getfixturevalue("another_zlib")
    pinner = Pinner(ipfs_node.api_multiaddr)
    image = decode_png(open(honest.image_path, "rb").read())
    inside = int(mutation_mask(bytes.fromhex(honest.event.args["entropy"][2:]), 64, 64)[0])
    image.reshape(-1, 3)[inside] ^= 0x01  # one bit of one mask pixel: the mask still holds
    _commit_forged(canvas, pinner, token_id, json.load(open(honest.metadata_path)), encode_png(image))
    verdicts = {v.generation: v for v in verify_one(canvas, pinner, token_id)}
    assert verdicts[0].status == VERIFIED and verdicts[1].status == FORGED
    assert [(c.name, c.detail) for c in verdicts[1].failed] == [
        # The animation (animation_url) still ends on the honest picture.
        ("animation", "the animation's frames of generation(s) 1 are not their pinned images"),
        ("rerender", "1 pixel(s) differ from the re-render"),
        ("rerender", "re-rendering gives other metadata: image, provenance.image.cid")]


def test_a_pixel_changed_outside_the_mask_is_caught(canvas, ipfs_node, forgery):
    token_id, honest, _, _ = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    image = decode_png(open(honest.image_path, "rb").read())
    mask = set(mutation_mask(bytes.fromhex(honest.event.args["entropy"][2:]), 64, 64).tolist())
    outside = next(i for i in range(64 * 64) if i not in mask)
    image.reshape(-1, 3)[outside] ^= 0x80
    _commit_forged(canvas, pinner, token_id, json.load(open(honest.metadata_path)), encode_png(image))
    assert {(1, "mask"), (1, "rerender")} <= _failed(canvas, pinner, token_id)


def test_a_mask_pixel_left_unchanged_is_caught(canvas, ipfs_node, forgery, settings):
    token_id, honest, daemon, _ = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    image = decode_png(open(honest.image_path, "rb").read())
    parent = decode_png(open(daemon.store.job(token_id, 0).image_path, "rb").read())
    first = int(mutation_mask(bytes.fromhex(honest.event.args["entropy"][2:]), 64, 64)[0])
    image.reshape(-1, 3)[first] = parent.reshape(-1, 3)[first]
    _commit_forged(canvas, pinner, token_id, json.load(open(honest.metadata_path)), encode_png(image))
    assert (1, "mask") in _failed(canvas, pinner, token_id)


def test_a_forged_parent_link_is_caught(canvas, ipfs_node, forgery):
    token_id, honest, _, _ = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    metadata = json.load(open(honest.metadata_path))
    metadata["provenance"]["parent"] = pinner.pin(b'{"provenance": {"generation": 0}}')
    _commit_forged(canvas, pinner, token_id, metadata)
    assert (1, "parent-link") in _failed(canvas, pinner, token_id)
    assert _statuses(canvas, pinner, token_id) == {0: VERIFIED, 1: FORGED}


def test_a_forged_latest_generation_fails_only_that_generation(canvas, ipfs_node, forgery, settings, capsys):
    """The renderer's key commits a foreign token's metadata for the latest generation: that generation
    is reported forged, with the commit's transaction; the honest generations before it still verify."""
    token_id, _, _, foreign = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    tx = _commit(canvas, token_id, 1, foreign)
    verdicts = verify_one(canvas, pinner, token_id)
    assert [(v.generation, v.status) for v in verdicts] == [(0, VERIFIED), (1, FORGED)]
    assert verdicts[1].commit_tx == tx and "chain-event" in {c.name for c in verdicts[1].failed}

    assert main(["verify", *_cli_args(settings, token_id)]) == 1
    captured = capsys.readouterr()
    assert "generation 0: verified" in captured.out and "generation 1: FORGED" in captured.out
    assert f"token {token_id}: 2 generation(s): 1 verified, 1 forged" in captured.out
    assert f"token {token_id} generation 1 forged (" in captured.err and tx in captured.err

    assert main(["verify", *_cli_args(settings, token_id), "--json"]) == 1
    as_json = json.loads(capsys.readouterr().out)
    assert [(v["generation"], v["status"], v["commit_tx"]) for v in as_json] == \
        [(0, "verified", as_json[0]["commit_tx"]), (1, "forged", tx)]
    assert "chain-event" in {f["check"] for f in as_json[1]["failed"]}


def test_verify_all_checks_every_token_and_names_the_forged_generations(canvas, ipfs_node, forgery, settings, capsys):
    token_id, _, _, foreign = forgery
    decoy = token_id - 1  # minted just before, committed honestly
    tx = _commit(canvas, token_id, 1, foreign)
    node = ["--rpc-url", settings.rpc_url, "--canvas", settings.canvas, "--ipfs-api", settings.ipfs_api]

    assert main(["verify", "--all", *node]) == 1
    captured = capsys.readouterr()
    total = canvas.contract.functions.totalMinted().call()
    assert f"] {total}/{total} tokens" in captured.err  # the progress bar, on stderr
    (named,) = [line for line in captured.err.splitlines() if line.startswith(f"token {token_id} generation 1 ")]
    assert named.startswith(f"token {token_id} generation 1 forged (") and "chain-event" in named and tx in named
    lines = captured.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["token", "gens"])
    table = {line.split()[0]: line.split()[1:] for line in lines[header + 1:]}
    assert "verified" in lines[header] and "forged" in lines[header]
    assert f"verified {total} token(s), " in captured.err
    assert set(table) == {str(t) for t in range(1, total + 1)} | {"all"}
    assert table[str(decoy)][:4] == ["1", "1", "0", "0"]  # generations, verified, not checkable, forged
    assert table[str(token_id)][:4] == ["2", "1", "0", "1"]

    assert main(["verify", "--all", "--json", *node]) == 1
    verdicts = json.loads(capsys.readouterr().out)
    mine = {(v["token_id"], v["generation"]): v["status"] for v in verdicts if v["token_id"] in (decoy, token_id)}
    assert mine == {(decoy, 0): "verified", (token_id, 0): "verified", (token_id, 1): "forged"}
    assert main(["verify", *node]) == 2 and "give one token id, or --all" in capsys.readouterr().err


def test_metadata_of_the_wrong_shape_is_forged_not_a_crash(canvas, ipfs_node, forgery):
    token_id, honest, _, _ = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    metadata = json.load(open(honest.metadata_path))
    metadata["provenance"].update(renderer="a string", mask="not a dict", memory=["a", "list"], colour=7)
    _commit_forged(canvas, pinner, token_id, metadata)
    verdicts = {v.generation: v for v in verify_one(canvas, pinner, token_id)}
    assert (verdicts[0].status, verdicts[1].status) == (VERIFIED, FORGED)
    assert "unexpected types or shapes" in " ".join(c.detail for c in verdicts[1].failed)


def test_a_model_that_is_not_deterministic_is_not_checkable_rather_than_verified(canvas, ipfs_node, forgery):
    """Whatever names a model no deterministic backend implements (diffusion on a GPU) cannot be re-rendered:
    every other check still runs, and the verdict says the pixels were not re-derived."""
    token_id, honest, _, _ = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    metadata = json.load(open(honest.metadata_path))
    metadata["provenance"]["renderer"]["model"] = "diffusers"
    _commit_forged(canvas, pinner, token_id, metadata)
    verdicts = {v.generation: v for v in verify_one(canvas, pinner, token_id)}
    assert (verdicts[0].status, verdicts[1].status) == (VERIFIED, NOT_CHECKABLE)
    assert "'diffusers' is not deterministic" in verdicts[1].note
    assert {c.name for c in verdicts[1].checks} >= {"chain-event", "mask", "age-layer", "image-cid"}
    assert "rerender" not in {c.name for c in verdicts[1].checks}

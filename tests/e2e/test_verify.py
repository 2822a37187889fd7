"""`chaos verify` and `chaos history` from the chain and IPFS alone, and forgeries they must catch."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from renderer import transactions, wallet
from renderer.cid import file_cid
from renderer.cli import main
from renderer.daemon import open_daemon
from renderer.ipfs import Pinner
from renderer.mask import mutation_mask
from renderer.metadata import encode_metadata
from renderer.png import decode_png, encode_png
from renderer.verify import failures, verify_token

from .helpers import COLLECTOR, RENDERER, SECOND, committed

pytestmark = pytest.mark.e2e


def _cli_args(settings, token_id):
    return [str(token_id), "--rpc-url", settings.rpc_url, "--canvas", settings.canvas, "--ipfs-api", settings.ipfs_api]


def test_an_honest_history_verifies_and_is_shown(canvas, settings, ipfs_node, tmp_path, capsys):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "three generations")
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    wallet.transfer(canvas, SECOND, token_id, COLLECTOR.address)
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 2), poll_interval=0.1, timeout=60)

    checks = verify_token(canvas, Pinner(ipfs_node.api_multiaddr), token_id)
    assert not failures(checks)
    assert {c.name for c in checks} >= {"metadata-cid", "chain-event", "parent-link", "image-cid", "mask",
                                         "rerender", "commit"}
    assert main(["verify", *_cli_args(settings, token_id)]) == 0
    assert "0 failed" in capsys.readouterr().out

    animation = tmp_path / "evolution.png"
    assert main(["history", *_cli_args(settings, token_id), "--animation", str(animation)]) == 0
    table = capsys.readouterr().out
    assert "token %d: 3 generation(s)" % token_id in table
    assert SECOND.address in table and COLLECTOR.address in table
    assert table.count(f"{40 / 4096:.4%}") == 2  # two mutations of 1% of a 64 x 64 image
    with Image.open(animation) as img:
        assert getattr(img, "n_frames", 1) == 3


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
    daemon.read_chain(), daemon.render_ready()
    honest = daemon.store.job(token_id, 1)
    return token_id, honest, daemon, daemon.store.job(decoy, 0).metadata_cid


def _commit_forged(canvas, pinner, token_id, metadata: dict, image_png: bytes | None = None):
    if image_png is not None:
        image_cid = pinner.pin(image_png)
        metadata["image"] = f"ipfs://{image_cid}"
        metadata["provenance"]["image"]["cid"] = image_cid
    cid = pinner.pin(encode_metadata(metadata))
    call = canvas.commit_call(token_id, 1, cid)
    transactions.transact(canvas.w3, RENDERER, call)
    return cid


def _failed(canvas, pinner, token_id):
    return {(c.generation, c.name) for c in failures(verify_token(canvas, pinner, token_id))}


def test_a_re_encoded_image_is_caught_by_the_re_render(canvas, ipfs_node, forgery):
    token_id, honest, _, _ = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    buffer = io.BytesIO()
    Image.open(honest.image_path).save(buffer, format="PNG", compress_level=1)  # same pixels, other bytes
    assert file_cid(buffer.getvalue()) != honest.image_cid
    _commit_forged(canvas, pinner, token_id, json.load(open(honest.metadata_path)), buffer.getvalue())
    assert _failed(canvas, pinner, token_id) == {(1, "rerender")}


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


def test_a_commit_of_a_foreign_cid_is_caught(canvas, ipfs_node, forgery, settings):
    token_id, _, _, foreign = forgery
    pinner = Pinner(ipfs_node.api_multiaddr)
    transactions.transact(canvas.w3, RENDERER, canvas.commit_call(token_id, 1, foreign))
    failed = _failed(canvas, pinner, token_id)
    assert (1, "chain-event") in failed
    assert main(["verify", str(token_id), "--rpc-url", settings.rpc_url, "--canvas", settings.canvas,
                 "--ipfs-api", settings.ipfs_api]) == 1

"""The observer protocol and sealed layers through the daemon, on real Anvil + IPFS: holders collapse
different colourings, a sealed layer surfaces after a time jump, `chaos verify` checks both and names
a forged observer or revealed layer; the CLI's errors say what to do."""

from __future__ import annotations

import json

import pytest

from renderer import transactions, wallet
from renderer.cli import main
from renderer.daemon import open_daemon
from renderer.ipfs import Pinner
from renderer.metadata import encode_metadata
from renderer.png import decode_png
from renderer.verify import failures, verify_token

from .helpers import COLLECTOR, RENDERER, SECOND, committed, rpc

pytestmark = pytest.mark.e2e


def _metadata(daemon, token_id, generation):
    return json.loads(open(daemon.store.job(token_id, generation).metadata_path).read())


def _node(settings, key):
    return ["--rpc-url", settings.rpc_url, "--canvas", settings.canvas, "--key", "0x" + key.key.hex().removeprefix("0x")]


def _jump(canvas, seconds):
    rpc(canvas.w3, "evm_increaseTime", seconds)
    rpc(canvas.w3, "evm_mine")


def _forge(canvas, daemon, pinner, token_id, generation, change):
    """Pin the job's honest image and a metadata changed by `change`, and commit it as the renderer."""
    job = daemon.store.job(token_id, generation)
    pinner.pin(open(job.image_path, "rb").read())
    forged = json.loads(open(job.metadata_path).read())
    change(forged)
    transactions.transact(canvas.w3, RENDERER, canvas.commit_call(token_id, generation,
                                                                   pinner.pin(encode_metadata(forged))))


def test_two_holders_observing_collapse_different_colourings(canvas, settings, ipfs_node):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a harbour of paper boats")
    # The collector signs; a relayer (the second collector) pays the gas.
    assert wallet.observe(canvas, COLLECTOR, token_id, submitter=SECOND)[0] == 1
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)  # generation 2
    assert wallet.observe(canvas, SECOND, token_id)[0] == 3
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 3), poll_interval=0.1, timeout=90)

    first, second = _metadata(daemon, token_id, 1), _metadata(daemon, token_id, 3)
    assert first["provenance"]["kind"] == second["provenance"]["kind"] == "observation"
    assert first["provenance"]["observation"]["observer"] == COLLECTOR.address
    assert second["provenance"]["observation"]["observer"] == SECOND.address
    assert {"trait_type": "Observer", "value": SECOND.address} in second["attributes"]
    assert first["provenance"]["palette"] != second["provenance"]["palette"]
    mint_palette = _metadata(daemon, token_id, 0)["provenance"]["palette"]
    assert mint_palette not in (first["provenance"]["palette"], second["provenance"]["palette"])
    assert daemon.store.job(token_id, 1).changed_pixel_fraction > 0.5  # the whole picture is regraded

    checks = verify_token(canvas, Pinner(ipfs_node.api_multiaddr), token_id)
    assert not failures(checks), failures(checks)
    assert {(1, "observer"), (3, "observer"), (1, "rerender"), (3, "rerender")} <= {(c.generation, c.name)
                                                                                    for c in checks}


def test_a_sealed_layer_is_revealed_after_its_unlock_time_and_rendered(canvas, settings, ipfs_node, tmp_path,
                                                                       capsys):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "an empty room with one window")
    holder = _node(settings, COLLECTOR)
    secrets = ["--out", str(tmp_path / "holder")]
    assert main(["seal", str(token_id), "--layer-prompt", "a red door", "--unlock-in", "3600",
                 *holder, *secrets]) == 0
    out = capsys.readouterr().out
    assert "seal-secrets" in out and str(tmp_path / "holder") in out
    state = canvas.seal_of(token_id)
    assert state.pending and state.to_json()["state"] == "sealed"

    # Too early, then a wrong secret: clear errors, no traceback, nothing sent.
    assert main(["reveal", str(token_id), *_node(settings, SECOND), *secrets]) == 2
    assert "too early" in capsys.readouterr().err
    _jump(canvas, 3601)
    assert main(["reveal", str(token_id), "--salt", "0x" + "11" * 32, *_node(settings, SECOND), *secrets]) == 2
    assert "wrong secret" in capsys.readouterr().err
    assert canvas.contract.functions.generationOf(token_id).call() == 0

    # Anyone holding the secret reveals it (here the second collector, with the holder's saved secret).
    assert main(["reveal", str(token_id), *_node(settings, SECOND), *secrets]) == 0
    assert "generation 1" in capsys.readouterr().out
    assert canvas.seal_of(token_id).to_json()["state"] == "revealed"
    assert main(["reveal", str(token_id), *_node(settings, SECOND), *secrets]) == 2
    assert "revealed already" in capsys.readouterr().err

    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=committed(daemon, token_id, 1), poll_interval=0.1, timeout=90)
    provenance = _metadata(daemon, token_id, 1)["provenance"]
    assert provenance["kind"] == "reveal" and provenance["reveal"]["layer_prompt"] == "a red door"
    assert provenance["mask"]["rule"].startswith("renderer.sealed")
    before = decode_png(open(daemon.store.job(token_id, 0).image_path, "rb").read())
    after = decode_png(open(daemon.store.job(token_id, 1).image_path, "rb").read())
    assert 0 < (before != after).any(axis=-1).mean() < 0.5  # a disc of the picture, not all of it

    checks = verify_token(canvas, Pinner(ipfs_node.api_multiaddr), token_id)
    assert not failures(checks), failures(checks)
    assert {(1, "reveal"), (1, "mask"), (1, "rerender")} <= {(c.generation, c.name) for c in checks}


def test_verify_names_a_forged_observer_and_a_forged_revealed_layer(canvas, settings, ipfs_node):
    observed, _ = wallet.mint(canvas, COLLECTOR, "a lantern in fog")
    revealed, _ = wallet.mint(canvas, COLLECTOR, "a wall of ivy")
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=lambda: all(committed(daemon, t, 0)() for t in (observed, revealed)), poll_interval=0.1,
               timeout=90)
    wallet.observe(canvas, COLLECTOR, observed)
    now = canvas.w3.eth.get_block("latest")["timestamp"]
    wallet.seal(canvas, COLLECTOR, revealed, "a hidden face", now + 60, settings.out_dir)
    _jump(canvas, 61)
    from renderer.sealed import load_secret

    secret, _ = load_secret(settings.out_dir, canvas.chain_id, canvas.address, revealed)
    wallet.reveal(canvas, SECOND, revealed, secret.layer_prompt, secret.salt_bytes)
    daemon.read_chain(), daemon.render_ready()  # rendered honestly, not committed: the forger commits
    pinner = Pinner(ipfs_node.api_multiaddr)

    def other_observer(document):
        document["provenance"]["observation"]["observer"] = SECOND.address

    def other_layer(document):
        document["provenance"]["reveal"]["layer_prompt"] = "a different face"

    _forge(canvas, daemon, pinner, observed, 1, other_observer)
    _forge(canvas, daemon, pinner, revealed, 1, other_layer)
    failed = {(c.generation, c.name) for c in failures(verify_token(canvas, pinner, observed))}
    assert (1, "observer") in failed
    failed = {(c.generation, c.name) for c in failures(verify_token(canvas, pinner, revealed))}
    assert (1, "reveal") in failed
    assert not {c.generation for c in failures(verify_token(canvas, pinner, revealed))} - {1}


def test_chaos_observe_refuses_clearly(canvas, settings, capsys):
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a kite over salt flats")
    assert main(["observe", str(token_id), *_node(settings, SECOND)]) == 2
    assert f"token {token_id} belongs to {COLLECTOR.address}, not to {SECOND.address}" in capsys.readouterr().err
    assert main(["observe", "999", *_node(settings, COLLECTOR)]) == 2
    assert "token 999 does not exist" in capsys.readouterr().err
    relayer = "0x" + SECOND.key.hex().removeprefix("0x")
    assert main(["observe", str(token_id), *_node(settings, COLLECTOR), "--submit-with", relayer]) == 0
    assert f"observed token {token_id} as {COLLECTOR.address}: generation 1" in capsys.readouterr().out
    assert main(["seal", str(token_id), "--layer-prompt", "x", "--unlock-at", "2001-01-01T00:00:00Z",
                 *_node(settings, COLLECTOR), "--out", str(settings.out_dir)]) == 2
    assert "is not in the future" in capsys.readouterr().err
    assert main(["seal", str(token_id), "--layer-prompt", "x", "--unlock-in", "60",
                 *_node(settings, SECOND), "--out", str(settings.out_dir)]) == 2
    assert "only its holder may seal" in capsys.readouterr().err
    assert main(["reveal", str(token_id), *_node(settings, COLLECTOR), "--out", str(settings.out_dir)]) == 2
    assert "has no sealed layer" in capsys.readouterr().err

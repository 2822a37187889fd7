"""The daemon on the diffusion backend (a tiny SD-architecture model saved to a folder and loaded
offline, on the CPU) end to end: mint and mutation rendered, pinned, committed and verified."""

from __future__ import annotations

import json

import pytest

from renderer import wallet
from renderer.backends.diffusion import DiffusionBackend
from renderer.devtools.tiny_model import save_tiny_model
from renderer.cli import main
from renderer.daemon import open_daemon
from renderer.ipfs import Pinner
from renderer.verify import failures, verify_token

from .helpers import COLLECTOR, RENDERER, SECOND, committed

pytestmark = pytest.mark.e2e


def test_the_daemon_renders_with_a_local_diffusion_model(canvas, settings, ipfs_node, tmp_path):
    model = save_tiny_model(tmp_path / "tiny-sd")
    diffusion = settings.with_overrides(backend="diffusion", model_dir=model, device="cpu", steps=2)
    token_id, _ = wallet.mint(canvas, COLLECTOR, "a lantern in the rain")
    daemon = open_daemon(diffusion, RENDERER)
    daemon.run(until=committed(daemon, token_id, 0), poll_interval=0.1, timeout=120)
    wallet.transfer(canvas, COLLECTOR, token_id, SECOND.address)
    daemon.run(until=committed(daemon, token_id, 1), poll_interval=0.1, timeout=120)

    metadata = json.loads(open(daemon.store.job(token_id, 1).metadata_path).read())
    renderer = metadata["provenance"]["renderer"]
    assert renderer["model"].startswith("diffusers:tiny-sd@")
    assert renderer["backend"]["settings"]["steps"] == 2 and renderer["backend"]["settings"]["device"] == "cpu"
    # No GPU here, and no replay file: the metadata says telemetry is absent.
    assert metadata["provenance"]["telemetry"]["source"] == "absent"
    # A diffusion render cannot be repeated bit for bit, but its mask can: verify checks it.
    checks = verify_token(canvas, Pinner(ipfs_node.api_multiaddr), token_id)
    assert not failures(checks), failures(checks)
    assert (1, "mask") in {(c.generation, c.name) for c in checks}
    assert "rerender" not in {c.name for c in checks}


def test_gpu_batch_draws_ready_mints_in_one_pipeline_call(canvas, settings, ipfs_node, tmp_path, monkeypatch):
    model = save_tiny_model(tmp_path / "tiny-sd")
    batched = settings.with_overrides(backend="diffusion", model_dir=model, device="cpu", steps=2, gpu_batch=2)
    calls = []
    create_batch = DiffusionBackend.create_batch

    def counted(self, items):
        calls.append({item.prompt for item in items})
        return create_batch(self, items)

    monkeypatch.setattr(DiffusionBackend, "create_batch", counted)
    first, _ = wallet.mint(canvas, COLLECTOR, "a kite over the dunes")
    second, _ = wallet.mint(canvas, SECOND, "a harbour at dusk")  # ready in the daemon's first pass
    daemon = open_daemon(batched, RENDERER)
    daemon.run(until=lambda: committed(daemon, first, 0)() and committed(daemon, second, 0)(), poll_interval=0.1,
               timeout=120)
    # Ready mints were drawn two per pipeline call (the module's canvas holds other tests' tokens too,
    # which this daemon's fresh store renders again in the same pass).
    assert max(len(call) for call in calls) == 2
    assert {"a kite over the dunes", "a harbour at dusk"} <= set().union(*calls)
    pinner = Pinner(ipfs_node.api_multiaddr)
    for token_id in (first, second):
        checks = verify_token(canvas, pinner, token_id)
        assert not failures(checks), failures(checks)


def test_a_missing_model_folder_stops_the_daemon_with_what_to_do(settings, tmp_path, capsys):
    code = main(["daemon", "--once", "--backend", "diffusion", "--model-dir", str(tmp_path / "nowhere"),
                 "--rpc-url", settings.rpc_url, "--canvas", settings.canvas, "--ipfs-api", settings.ipfs_api,
                 "--key", RENDERER.key.hex(), "--out", str(tmp_path / "out")])
    assert code == 2
    assert str(tmp_path / "nowhere") in capsys.readouterr().err

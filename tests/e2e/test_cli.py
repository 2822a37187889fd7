"""The `chaos` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from renderer.animation import decode_frames
from renderer.cid import file_cid
from renderer.cli import build_parser, main
from renderer.project import PROJECT_ROOT
from renderer.devtools.nodes import free_port

COMMANDS = ["demo", "deploy", "daemon", "mint", "transfer", "buy", "age", "history", "verify", "watch", "status",
            "pins", "pools", "gallery", "bench"]


def chaos(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "renderer.cli", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, **kwargs)


@pytest.mark.parametrize("command", [None, *COMMANDS, "bench load", "bench gas", "bench gpu", "pins audit"])
def test_every_command_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command.split(), "--help"] if command else ["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "usage: chaos" in text
    if command is None:
        assert all(name in text for name in COMMANDS)


def test_the_console_script_is_declared():
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    assert 'chaos = "renderer.cli:main"' in pyproject
    assert build_parser().prog == "chaos"


def test_daemon_without_a_key_says_how_to_give_one(monkeypatch, capsys):
    for variable in ("CHAOS_RENDERER_KEY", "CHAOS_KEYSTORE"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["daemon", "--rpc-url", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "no renderer key: set CHAOS_RENDERER_KEY" in capsys.readouterr().err


def test_daemon_with_a_dead_rpc_node_says_so(capsys):
    port = free_port()
    code = main(["daemon", "--rpc-url", f"http://127.0.0.1:{port}", "--key", "0x" + "01" * 32])
    assert code == 2
    assert f"cannot reach the Ethereum RPC node at http://127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.e2e
def test_demo_runs_from_nothing_and_writes_its_summary(tmp_path):
    result = chaos("demo", "--out", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["chain_id"] == 31337 and summary["canvas"].startswith("0x")
    (token,) = summary["tokens"]
    assert token["id"] == 1 and token["owner"].startswith("0x")
    gens = token["generations"]
    assert [g["generation"] for g in gens] == [0, 1, 2]
    for g in gens:
        assert g["metadata_cid"].startswith("bafkrei") and g["image_cid"].startswith("bafkrei")
        assert (PROJECT_ROOT / g["image_path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert not Path(g["metadata_path"]).is_absolute()
    assert gens[0]["changed_pixel_fraction"] == 1.0
    assert gens[1]["changed_pixel_fraction"] == 655 / 65536
    # Generation 2 is the demo's colour purchase: a re-colouring of the whole picture, no mask.
    assert gens[2]["changed_pixel_fraction"] > 0.5
    recolour = json.loads((PROJECT_ROOT / gens[2]["metadata_path"]).read_text())
    provenance = recolour["provenance"]
    assert provenance["kind"] == "recolour" and provenance["mask"] is None
    assert {"trait_type": "Kind", "value": "Re-colouring"} in recolour["attributes"]
    weights = [int(w) for w in provenance["colour"]["weights"]]
    assert weights[7] > 0 and sum(weights) == weights[7]  # the demo bought hue 7 only
    assert provenance["palette"] != json.loads((PROJECT_ROOT / gens[1]["metadata_path"]).read_text())[
        "provenance"]["palette"]
    assert "stopping Anvil and IPFS" in result.stdout
    # What marketplaces play: the evolution so far, an APNG of the three generations, beside the image.
    animation = recolour["animation_url"].removeprefix("ipfs://")
    apng = (PROJECT_ROOT / gens[2]["image_path"]).with_suffix(".apng").read_bytes()
    assert recolour["animation_url"].startswith("ipfs://") and file_cid(apng) == animation
    assert len(decode_frames(apng)) == 3 and "external_url" not in recolour  # no gallery without --serve


@pytest.mark.e2e
def test_chaos_gallery_serves_the_canvas_until_stopped(anvil_node, ipfs_node, deployment):
    port = free_port()
    command = [sys.executable, "-m", "renderer.cli", "gallery", "--port", str(port), "--rpc-url", anvil_node.url,
               "--canvas", deployment["canvas"], "--ipfs-api", ipfs_node.api_multiaddr]
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = server.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in banner and f"colour pools {deployment['pools']}" in banner, banner
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/config", timeout=10) as response:
            assert json.loads(response.read())["canvas"] == deployment["canvas"]
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.e2e
def test_chaos_gallery_refuses_a_pools_address_that_is_not_the_canvas_pools(anvil_node, deployment, capsys):
    assert main(["gallery", "--port", str(free_port()), "--pools", deployment["canvas"], "--rpc-url", anvil_node.url,
                 "--canvas", deployment["canvas"]]) == 2
    assert "does not hold POOLS_ROLE" in capsys.readouterr().err

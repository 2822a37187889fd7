"""`chaos deploy` as users run it: to a live-style network with a keystore, and from a
checkout whose path has dots, spaces and non-ASCII characters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from renderer.project import PROJECT_ROOT
from renderer.devtools.nodes import AnvilNode

pytestmark = pytest.mark.e2e

SEPOLIA = 11155111
PASSWORD = "correct horse battery staple"


def _run_deploy(checkout: Path, rpc_url: str, record: Path, *extra: str, env: dict | None = None):
    command = [sys.executable, "-m", "renderer.cli", "deploy", "--rpc-url", rpc_url,
               "--renderer", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--record", str(record), *extra]
    return subprocess.run(command, cwd=checkout, capture_output=True, text=True, env=env or os.environ.copy(),
                          timeout=600)


def test_live_network_deploy_with_a_keystore_prints_no_traceback(tmp_path):
    deployer = Account.create()
    keystore = tmp_path / "deployer.json"
    keystore.write_text(json.dumps(Account.encrypt(deployer.key, PASSWORD)))
    with AnvilNode(tmp_path / "anvil", chain_id=SEPOLIA, block_time=1, base_fee=10**9) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        funder = w3.eth.accounts[0]
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": funder, "to": deployer.address, "value": 10**19}))
        record = tmp_path / "record.json"

        result = _run_deploy(PROJECT_ROOT, node.url, record, "--keystore", str(keystore),
                             env={**os.environ, "CHAOS_KEYSTORE_PASSWORD": PASSWORD})

        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        assert "Traceback" not in output and "TypeError" not in output, output[-3000:]
        deployment = json.loads(record.read_text())
        assert deployment["chain_id"] == SEPOLIA
        assert deployment["deployer"] == deployer.address
        assert w3.eth.get_code(deployment["canvas"]) and w3.eth.get_code(deployment["pools"])
        # The deployer holds the admin role; the renderer address holds the renderer role.
        assert w3.eth.get_balance(deployer.address) < 10**19  # it paid the gas


def test_live_deploy_with_a_wrong_password_says_so(tmp_path):
    keystore = tmp_path / "deployer.json"
    keystore.write_text(json.dumps(Account.encrypt(Account.create().key, PASSWORD)))
    with AnvilNode(tmp_path / "anvil", chain_id=SEPOLIA) as node:
        result = _run_deploy(PROJECT_ROOT, node.url, tmp_path / "record.json", "--keystore", str(keystore),
                             env={**os.environ, "CHAOS_KEYSTORE_PASSWORD": "wrong"})
    assert result.returncode != 0
    assert "wrong password" in result.stderr and "Traceback" not in result.stderr


def test_deploy_to_a_remote_node_without_a_key_is_refused(tmp_path):
    result = _run_deploy(PROJECT_ROOT, "https://rpc.example.invalid", tmp_path / "record.json")
    assert result.returncode != 0
    assert "--keystore" in result.stderr


def _copy_checkout(destination: Path) -> Path:
    """The working tree's files (tracked and untracked, not ignored), with the installed npm
    packages linked in: what a fresh clone in that folder holds after `make setup`."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=PROJECT_ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = PROJECT_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    # The shim `make setup` writes, pointing into this copy (as in a clone of its own).
    shim = destination / ".solc" / "solc-v0.8.30"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec node "{destination}/tools/solc-shim.js" "$@"\n')
    shim.chmod(0o755)
    return destination


def test_demo_from_a_folder_with_dots_spaces_and_accents(tmp_path):
    """The whole demo (brownie compile and deploy, Anvil, js-ipfs, the daemon) from a copy of the
    checkout whose path has a dot, spaces and accents, using the copy's own compiler shim."""
    checkout = _copy_checkout(tmp_path / "src" / "chaos.canvas v2 – café")
    solcx_home = Path.home() / ".solcx"
    before = sorted(p.name for p in solcx_home.iterdir()) if solcx_home.exists() else None
    env = {k: v for k, v in os.environ.items() if k != "SOLCX_BINARY_PATH"}  # the copy finds its own shim
    out = tmp_path / "demo out"

    result = subprocess.run([sys.executable, "-m", "renderer.cli", "demo", "--out", str(out)], cwd=checkout,
                            capture_output=True, text=True, env=env, timeout=900)

    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    summary = json.loads((out / "demo" / "summary.json").read_text())
    assert [g["kind"] for g in summary["tokens"][0]["generations"]][:2] == ["mint", "mutation"]
    # The copy compiled into its own build folder; nothing changed under ~/.solcx.
    assert (checkout / "build" / "contracts" / "ChaosCanvas.json").exists()
    after = sorted(p.name for p in solcx_home.iterdir()) if solcx_home.exists() else None
    assert after == before

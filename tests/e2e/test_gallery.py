"""`chaos gallery` end to end: real Anvil + IPFS + daemon, the JSON API over HTTP, and the page in
Debian's headless Chromium driven by playwright-core (tests/e2e/gallery_driver.js; no browser download).

Screenshots land in out/gallery-test/ (grid.png, token.png, probe.png, trust.png, mint.png; sealed.png,
revealed.png, observe.png and observed.png from the sealed-layer and observer test).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from datetime import datetime, timezone
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3
from web3.logs import DISCARD

from renderer import transactions, wallet
from renderer.cid import file_cid
from renderer.daemon import open_daemon
from renderer.gallery import serve_gallery
from renderer.cli import main
from renderer.gallery.api import NO_POOLS
from renderer.history import chain_history_rows
from renderer.ipfs import Replicas
from renderer.mask import mutation_mask
from renderer.png import decode_png
from renderer.project import PROJECT_ROOT, node_modules
from renderer.provenance import load_history

from .helpers import COLLECTOR, RENDERER, SECOND, committed, rpc

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path(__file__).with_name("gallery_driver.js")
OUT = PROJECT_ROOT / "out" / "gallery-test"
#: Anvil's dev account 4, which Anvil keeps unlocked: the "browser wallet" signs with eth_sendTransaction.
BROWSER_WALLET = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
#: Typed into the mint form: non-ASCII on purpose, to check the page's UTF-8 ABI encoding.
FORM_PROMPT = "a harbour in fog, drawn in ünïcødé ☂"
BUY_ABI = [{"type": "function", "name": "buy", "stateMutability": "payable", "outputs": [{"type": "uint256"}],
            "inputs": [{"name": n, "type": "uint256"} for n in ("tokenId", "hue", "minPigmentOut", "deadline")]}]


def _get(server, path: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(server.url + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def _json(server, path: str):
    status, content_type, body = _get(server, path)
    assert status == 200 and content_type == "application/json", (path, status, body[:300])
    return json.loads(body)


@pytest.fixture
def tokens(canvas, settings, deployment):
    """Two tokens, the first transferred (two generations), all rendered and committed by the daemon;
    with colour pools deployed, one trade so the price chart has a move to draw."""
    first, _ = wallet.mint(canvas, COLLECTOR, "a lighthouse made of weather")
    second, _ = wallet.mint(canvas, SECOND, "an orchard at the edge of a glacier")
    wallet.transfer(canvas, COLLECTOR, first, SECOND.address)
    daemon = open_daemon(settings, RENDERER)
    daemon.run(until=lambda: committed(daemon, first, 1)() and committed(daemon, second, 0)(),
               poll_interval=0.1, timeout=90)
    if deployment.get("pools"):
        pools = canvas.w3.eth.contract(address=deployment["pools"], abi=BUY_ABI)
        deadline = canvas.w3.eth.get_block("latest")["timestamp"] + 3600
        transactions.transact(canvas.w3, SECOND, pools.functions.buy(second, 4, 1, deadline), value=10**17)
    return {first: 2, second: 1}


@pytest.fixture
def gallery(canvas, ipfs_node, deployment):
    server = serve_gallery(canvas, Replicas(ipfs_node.api_multiaddr), "127.0.0.1", 0,
                           pools_address=deployment.get("pools"), from_block=deployment["block"])
    yield server
    server.close()


def _drive(options: dict, answers: dict[str, Callable[[], object]] | None = None, timeout: float = 300) -> dict:
    """Run gallery_driver.js; answer each {"ask": NAME} line it prints by calling answers[NAME]() and writing
    "ok" and the JSON of what it returned; return the driver's summary (its last line). The driver is killed
    on a timeout or a failed answer."""
    stderr = open(OUT / "driver-stderr.log", "w+")  # a file: a full stderr pipe would block the driver
    process = subprocess.Popen(["node", str(DRIVER), json.dumps(options)], cwd=PROJECT_ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            asked = json.loads(line).get("ask") if line.startswith('{"ask"') else None
            if asked is not None:
                process.stdin.write(f"ok {json.dumps((answers or {})[asked]())}\n")
                process.stdin.flush()
        process.wait(30)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        stderr.seek(0)
        errors = stderr.read()
        stderr.close()
    assert process.returncode == 0 and lines, f"driver failed ({process.returncode}):\n{''.join(lines)[-4000:]}\n{errors[-4000:]}"
    return json.loads(lines[-1])


def _probe_target(canvas, deployment, token_id: int, generation: int) -> tuple[int, int]:
    """A pixel the mutation of `generation` painted (the first of its mask, recomputed from the event)."""
    event = next(e for e in canvas.events(deployment["block"], "latest", token_id=token_id) if e.generation == generation)
    index = int(mutation_mask(bytes.fromhex(event.args["entropy"][2:]), 64, 64)[0])
    return index % 64, index // 64


def _check_probe(server, canvas, settings, deployment, token_id, x, y, capsys) -> dict:
    """The probe's API route and `chaos age --pixel` give one answer; outside the image both say its size."""
    answer = _json(server, f"/api/tokens/{token_id}/probe?generation=1&x={x}&y={y}")
    assert (answer["born"]["generation"], answer["born"]["kind"], answer["repaints"], answer["age"]) == (1, "mutation", 1, 0)
    events = {e.generation: e for e in canvas.events(deployment["block"], "latest", token_id=token_id)}
    assert [(p["generation"], p["kind"], p["block"], p["tx"]) for p in answer["events"]] == [
        (g, events[g].kind, events[g].block_number, events[g].tx_hash) for g in (0, 1)]
    assert answer["source"].startswith("age layer b") and answer["notes"] == []
    at_mint = _json(server, f"/api/tokens/{token_id}/probe?generation=0&x={x}&y={y}")
    assert (at_mint["born"]["generation"], at_mint["repaints"], at_mint["age"]) == (0, 0, 0)
    for path in (f"/api/tokens/{token_id}/probe?generation=1&x=64&y=0", f"/api/tokens/{token_id}/probe?x=3&y=64"):
        status, _, body = _get(server, path)
        assert status == 400 and "outside the 64 x 64 image" in json.loads(body)["error"], (path, body)
    status, _, body = _get(server, f"/api/tokens/{token_id}/probe?generation=7&x=3&y=3")
    assert status == 404 and "generation 7" in json.loads(body)["error"]

    nodes = ["--rpc-url", settings.rpc_url, "--canvas", settings.canvas, "--ipfs-api", settings.ipfs_api,
             "--out", str(settings.out_dir)]
    capsys.readouterr()
    assert main(["age", str(token_id), "--pixel", f"{x},{y}", "--generation", "1", "--json", *nodes]) == 0
    assert json.loads(capsys.readouterr().out) == answer
    assert main(["age", str(token_id), "--pixel", f"{x},{y}", *nodes]) == 0
    text = capsys.readouterr().out
    assert f"pixel ({x}, {y}) of generation 1 (64 x 64)" in text and "born at generation 1 (mutation" in text
    assert main(["age", str(token_id), "--pixel", "64,10", *nodes]) == 2
    assert "pixel (64, 10) is outside the 64 x 64 image: x must be 0 to 63" in capsys.readouterr().err
    return answer


def _check_api(server, canvas, ipfs_node, deployment, tokens):
    first, second = tokens
    assert server.server_address[0] == "127.0.0.1"

    config = _json(server, "/api/config")
    functions = canvas.contract.functions
    assert config["chain_id"] == canvas.chain_id and config["canvas"] == canvas.address
    assert config["mint_price_wei"] == str(functions.mintPrice().call())
    assert config["max_prompt_bytes"] == functions.MAX_PROMPT_BYTES().call()
    assert config["mint_selector"] == "0x" + functions.mint("x")._encode_transaction_data()[2:10]
    assert config["total_minted"] == 2

    grid = _json(server, "/api/tokens")
    assert grid["total"] == 2 and [t["token_id"] for t in grid["tokens"]] == [second, first]
    by_id = {t["token_id"]: t for t in grid["tokens"]}
    assert by_id[first]["owner"] == SECOND.address and by_id[first]["committed_generation"] == 1
    assert by_id[second]["owner"] == SECOND.address and by_id[second]["image_cid"]

    detail = _json(server, f"/api/tokens/{first}")
    rows = chain_history_rows(load_history(canvas, Replicas(ipfs_node.api_multiaddr), first))
    assert [{k: g[k] for k in rows[0]} for g in detail["generations"]] == rows
    assert [g["owner"] for g in detail["generations"]] == [COLLECTOR.address, SECOND.address]
    assert [g["kind"] for g in detail["generations"]] == ["mint", "mutation"]
    assert detail["generations"][1]["changed_pixel_fraction"] == pytest.approx(40 / 4096)  # 1% of 64 x 64
    assert all(g["palette"] for g in detail["generations"]) and detail["prompt"] == "a lighthouse made of weather"
    assert detail["pending"] == [] and detail["problems"] == []
    for generation in detail["generations"]:
        assert generation["age"]["format"] == "chaos-age/1"
        status, content_type, body = _get(server, f"/age/{generation['age']['cid']}.png")
        assert (status, content_type) == (200, "image/png")
        assert decode_png(body).shape == (64, 64, 3)

    image_cid = detail["generations"][0]["image_cid"]
    status, content_type, body = _get(server, f"/ipfs/{image_cid}")
    assert (status, content_type) == (200, "image/png") and file_cid(body) == image_cid
    status, content_type, body = _get(server, f"/ipfs/{detail['generations'][0]['metadata_cid']}")
    assert (status, content_type) == (200, "application/json") and json.loads(body)["image"] == f"ipfs://{image_cid}"
    assert _get(server, "/ipfs/" + file_cid(b"not a CID of this canvas"))[0] == 404  # no open gateway
    assert _get(server, "/api/tokens/99")[0] == 404
    assert _get(server, "/api/tokens/x")[0] == 400
    for method in ("POST", "PUT", "DELETE"):
        assert _get(server, "/api/tokens", method)[0] == 405

    pools = _json(server, "/api/pools")
    if deployment.get("pools"):
        assert pools["pools"] == deployment["pools"] and len(pools["hues"]) >= 2
        history = pools["history"]
        assert len(history) >= 2 and int(history[-1]["prices_wei"][4]) > int(history[0]["prices_wei"][4])
        assert history[-1]["prices_wei"][0] == history[0]["prices_wei"][0]  # only hue 4 traded
    else:
        assert pools == {"pools": None, "message": NO_POOLS, "hues": [], "history": []}


def _forge_latest(canvas, token_id, foreign_cid) -> tuple[int, str]:
    """A new generation of `token_id` (a transfer) whose commit, signed with the renderer's key, names a
    foreign metadata CID: the generation and the commit's tx."""
    owner = canvas.owner_of(token_id)
    holder, recipient = (SECOND, COLLECTOR) if owner == SECOND.address else (COLLECTOR, SECOND)
    wallet.transfer(canvas, holder, token_id, recipient.address)
    generation = canvas.contract.functions.generationOf(token_id).call()
    receipt = transactions.transact(canvas.w3, RENDERER, canvas.commit_call(token_id, generation, foreign_cid))
    return generation, receipt["transactionHash"].to_0x_hex()


def _check_trust_api(server, tokens, forged_id, forged_generation, tx):
    first = _json(server, f"/api/tokens/{tokens[0]}")
    assert [g["trust"]["status"] for g in first["generations"]] == ["verified", "verified"]
    assert all(g["trust"]["failed"] == [] and g["trust"]["commit_tx"] for g in first["generations"])
    forged = {g["generation"]: g["trust"] for g in _json(server, f"/api/tokens/{forged_id}")["generations"]}
    assert forged[0]["status"] == "verified"
    assert forged[forged_generation]["status"] == "forged" and forged[forged_generation]["commit_tx"] == tx
    assert "chain-event" in {f["check"] for f in forged[forged_generation]["failed"]}


#: Bad input, against the real canvas: (path, status). Out-of-range ids and pages are 400s; a well-formed id
#: or CID the canvas does not know is a 404; never a 500.
EDGE_INPUTS = [("/api/tokens/-1", 400), ("/api/tokens/0", 404), (f"/api/tokens/{2**256 - 1}", 404),
               (f"/api/tokens/{2**256}", 400), ("/api/tokens?page=-5", 400), ("/api/tokens?page=1000000", 200),
               ("/api/tokens?page=1000001", 400), ("/api/tokens?per_page=200", 200), ("/ipfs/Qm123", 400),
               ("/age/bafkreiaxvzbzoqvwhljpg7qk2pu4c2yi4xgnzyjfhbfvjtazkzwy2tq754.png", 404)]


def _check_bad_input(server):
    for path, expected in EDGE_INPUTS:
        status, content_type, body = _get(server, path)
        assert (status, content_type) == (expected, "application/json"), (path, status, body[:300])
        if status != 200:
            assert json.loads(body)["error"], path
    assert _json(server, "/api/tokens?page=1000000")["tokens"] == []


def test_the_gallery_shows_the_tokens_and_mints_through_a_browser_wallet(
        canvas, ipfs_node, anvil_node, deployment, settings, tokens, gallery, capsys):
    _check_api(gallery, canvas, ipfs_node, deployment, list(tokens))
    _check_bad_input(gallery)
    probe_x, probe_y = _probe_target(canvas, deployment, list(tokens)[0], 1)
    probed = _check_probe(gallery, canvas, settings, deployment, list(tokens)[0], probe_x, probe_y, capsys)
    # The second token's newest generation is forged with the renderer's key: a foreign token's metadata.
    first, second = list(tokens)
    foreign = _json(gallery, f"/api/tokens/{first}")["generations"][0]["metadata_cid"]
    forged_generation, tx = _forge_latest(canvas, second, foreign)
    _check_trust_api(gallery, list(tokens), second, forged_generation, tx)
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (`make browser`) for the browser part")
    assert (node_modules() / "playwright-core").is_dir(), "playwright-core is missing: run `npm ci`"
    shutil.rmtree(OUT, ignore_errors=True)

    options = {"gallery": gallery.url, "anvil": anvil_node.url, "account": BROWSER_WALLET, "prompt": FORM_PROMPT,
               "out": str(OUT), "chromium": str(CHROMIUM), "pools": bool(deployment.get("pools")),
               "tokens": [{"id": token_id, "generations": n} for token_id, n in tokens.items()],
               "forged": {"id": second, "generation": forged_generation},
               "probe": {"id": first, "generation": 1, "x": probe_x, "y": probe_y}}
    OUT.mkdir(parents=True)
    summary = _drive(options)
    assert summary["steps"] == ["grid", "token", "age", "probe", "trust", "no-wallet", "mint", "unrendered"]
    assert not summary["page_errors"] and not summary["console_errors"], summary

    # The grid: both tokens, their images decoded by the browser.
    assert set(summary["grid"]["tokens"]) == set(tokens)
    assert all(image["width"] > 0 for image in summary["grid"]["images"])

    # The scrubber: generation 0 and back to the latest swap the image and the changed-pixel figure.
    token = summary["token"]
    assert (token["first"]["generation"], token["back"]["generation"]) == ("0", "1")
    assert token["first"]["changed"] == "100 % (the first image)"
    assert token["back"]["changed"] == f"{40 / 4096 * 100:.4f} %"
    assert token["first"]["cid"] != token["back"]["cid"] and token["back"]["src"] == f"/ipfs/{token['back']['cid']}"
    assert token["back"]["palette"] and token["back"]["age_panel_visible"]  # every render has an age layer
    assert summary["age"]["latest"]["src"].startswith("/age/") and summary["age"]["first"]["width"] == 64

    # The probe: a click on the pixel generation 1's mutation painted shows its birth there, one repaint and
    # the two events (the API's answer); scrubbing to generation 0 asks again: the mint's paint, age 0.
    at, at_mint = summary["probe"]["at"], summary["probe"]["mint"]
    assert (at["x"], at["y"], at["generation"], at["born"], at["repaints"], at["age"]) == (probe_x, probe_y, 1, 1, 1, 0)
    assert at["events"] == [[p["generation"], p["kind"]] for p in probed["events"]] == [[0, "mint"], [1, "mutation"]]
    assert f"Pixel ({probe_x}, {probe_y}) of generation 1: born at generation 1 (mutation, block " in at["summary"]
    assert (at_mint["x"], at_mint["generation"], at_mint["born"], at_mint["repaints"]) == (probe_x, 0, 0, 0)
    assert at_mint["events"] == [[0, "mint"]] and "never repainted" in at_mint["summary"]
    if deployment.get("pools"):
        assert token["back"]["pools_series"] >= 2
    else:
        assert token["back"]["pools_message"] == "No colour pools on this canvas."

    # Trust badges, from the same verifier as `chaos verify`: every generation of the honest token is
    # verified; the forged token's latest generation is forged, with its failed checks and commit, and
    # its first generation still verified.
    trust = summary["trust"]
    assert trust["honest"]["strip"] == [[0, "verified"], [1, "verified"]]
    assert (trust["honest"]["badge"], trust["honest"]["failed"]) == ("Verified", [])
    forged = trust["forged"]
    assert forged["strip"][0] == [0, "verified"] and forged["strip"][-1] == [forged_generation, "forged"]
    assert (forged["generation"], forged["badge"], forged["commit"]) == (str(forged_generation), "Forged", tx)
    assert any(line.startswith("chain-event: ") for line in forged["failed"]), forged["failed"]
    assert (trust["forged_first"]["badge"], trust["forged_first"]["failed"]) == ("Verified", [])

    # No wallet: the plain sentence and a disabled button; a prompt over the byte limit is refused.
    assert summary["no_wallet"]["button_disabled"] and "No browser wallet found" in summary["no_wallet"]["message"]
    assert "282 bytes" in summary["too_long"]["message"]

    # The form's mint is on-chain: token 3, by the browser wallet, with the prompt as typed.
    mint = summary["mint"]
    assert mint["link"] == "#/token/3"
    assert canvas.contract.functions.totalMinted().call() == 3
    assert canvas.owner_of(3) == Web3.to_checksum_address(BROWSER_WALLET)
    (event,) = canvas.events(deployment["block"], "latest", token_id=3)
    assert event.args["prompt"] == FORM_PROMPT and event.args["minter"] == Web3.to_checksum_address(BROWSER_WALLET)
    assert event.tx_hash == mint["tx_hash"]
    assert "eth_sendTransaction" in mint["requests"]
    assert summary["unrendered"]["notice"].startswith("Awaiting its first render")
    assert summary["unrendered"]["card"] == "awaiting its first render"

    for name in ("grid.png", "token.png", "probe.png", "trust.png", "mint.png"):
        data = (OUT / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000, name


#: The sealed layer's secret: its prompt and salt (the canvas keeps only their hash until the reveal).
LAYER_PROMPT = "a red door in the ivy"
LAYER_SALT = Web3.keccak(text="gallery test salt")


def test_the_gallery_shows_a_sealed_layer_before_and_after_its_reveal_and_observes_with_a_browser_wallet(
        canvas, anvil_node, deployment, settings, gallery):
    """Issue 13 in the browser: a layer sealed with an unlock time an hour ahead shows as sealed until then; the
    chain's clock jumps past it (evm_increaseTime), anyone holding the secret reveals it and the daemon renders
    the reveal generation, which the page then shows with its layer prompt. The injected wallet (Anvil's
    unlocked dev account) signs Observe(tokenId, generation) with eth_signTypedData_v4 and sends observe(...);
    the daemon renders the observation generation, which names the wallet as its observer."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (`make browser`)")
    w3, functions = canvas.w3, canvas.contract.functions
    settings = settings.with_overrides(start_block=w3.eth.block_number + 1)  # this test's tokens only
    sealed_id, _ = wallet.mint(canvas, COLLECTOR, "a wall of ivy")
    minted = functions.mint("a kite over salt flats").transact(
        {"from": BROWSER_WALLET, "value": functions.mintPrice().call()})
    (event,) = canvas.contract.events.Minted().process_receipt(w3.eth.wait_for_transaction_receipt(minted),
                                                               errors=DISCARD)
    observed_id = event.args.tokenId
    commitment = Web3.keccak(abi_encode(["string", "bytes32"], [LAYER_PROMPT, LAYER_SALT]))
    unlock_at = w3.eth.get_block("latest")["timestamp"] + 3600
    transactions.transact(w3, COLLECTOR, functions.seal(sealed_id, commitment, unlock_at))

    daemon = open_daemon(settings, RENDERER)
    try:
        daemon.run(until=lambda: committed(daemon, sealed_id, 0)() and committed(daemon, observed_id, 0)(),
                   poll_interval=0.1, timeout=90)
        seal = _json(gallery, f"/api/tokens/{sealed_id}")["seal"]
        assert (seal["commitment"], seal["unlock_at"], seal["sealed"], seal["unlockable"], seal["reveals"]) == (
            commitment.to_0x_hex(), unlock_at, True, False, [])
        assert _json(gallery, f"/api/tokens/{observed_id}")["seal"] is None

        inside = {}

        def reveal():
            with pytest.raises(transactions.TransactionFailed, match="StillSealed"):
                transactions.transact(w3, SECOND, functions.reveal(sealed_id, LAYER_PROMPT, LAYER_SALT))
            rpc(w3, "evm_increaseTime", 3601)
            rpc(w3, "evm_mine")
            with pytest.raises(transactions.TransactionFailed, match="WrongSecret"):
                transactions.transact(w3, SECOND, functions.reveal(sealed_id, "a blue door", LAYER_SALT))
            transactions.transact(w3, SECOND, functions.reveal(sealed_id, LAYER_PROMPT, LAYER_SALT))
            daemon.run(until=committed(daemon, sealed_id, 1), poll_interval=0.1, timeout=90)
            # The pixel the revealed layer covers most (its disc's centre, recomputed from the reveal's entropy).
            event = next(e for e in canvas.events(deployment["block"], "latest", token_id=sealed_id)
                         if e.generation == 1)
            from renderer.sealed import reveal_weights

            alpha = reveal_weights(bytes.fromhex(event.args["entropy"][2:]), 64, 64)
            y, x = (int(v) for v in np.unravel_index(int(np.argmax(alpha)), alpha.shape))
            inside.update(x=x, y=y, alpha=int(alpha[y, x]))
            return inside

        def observed():
            daemon.run(until=committed(daemon, observed_id, 1), poll_interval=0.1, timeout=90)

        shutil.rmtree(OUT / "sealed-observe", ignore_errors=True)
        (OUT / "sealed-observe").mkdir(parents=True)
        options = {"mode": "sealed-observe", "gallery": gallery.url, "anvil": anvil_node.url,
                   "account": BROWSER_WALLET, "out": str(OUT / "sealed-observe"), "chromium": str(CHROMIUM),
                   "sealed": {"id": sealed_id}, "observed": {"id": observed_id}, "not_held": {"id": sealed_id}}
        summary = _drive(options, {"reveal": reveal, "observed": observed})
    finally:
        daemon.close()
    assert summary["steps"] == ["sealed", "revealed", "observe"], summary
    assert not summary["page_errors"] and not summary["console_errors"], summary

    # Before: sealed until the unlock time, in UTC; after: revealed, with the layer prompt, as generation 1.
    before, after = summary["sealed"]["before"], summary["sealed"]["after"]
    when = datetime.fromtimestamp(unlock_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert before["unlock_at"] == unlock_at and f"sealed until {when}" in before["status"]
    assert before["revealed"] == [] and before["generation"] == "0"
    assert after["status"] is None and len(after["revealed"]) == 1 and f"“{LAYER_PROMPT}”" in after["revealed"][0]
    assert (after["generation"], after["kind"], after["layer"]) == ("1", "reveal", f"“{LAYER_PROMPT}”")
    # The probe at the disc's centre: the reveal is listed as blended over the pixel, at its alpha, with its
    # layer prompt; the pixel's birth is still the mint's (a reveal carries the age layer over).
    probe = after["probe"]
    assert (probe["x"], probe["y"], probe["born"]) == (inside["x"], inside["y"], 0)
    assert [(g, a) for g, a, _ in probe["blended"]] == [(1, inside["alpha"])] and LAYER_PROMPT in probe["blended"][0][2]
    seal = _json(gallery, f"/api/tokens/{sealed_id}")["seal"]
    assert seal["sealed"] is False and [(r["generation"], r["layer_prompt"]) for r in seal["reveals"]] == [
        (1, LAYER_PROMPT)]

    # A token the wallet does not hold: refused before any signature is asked for.
    assert f"only the holder {COLLECTOR.address} can observe token #{sealed_id}" in summary["not_held"]["error"]
    assert "eth_signTypedData_v4" not in summary["not_held"]["requests"]

    # The observation: the wallet signed the typed data of generation 0 and sent observe() itself.
    observe = summary["observe"]
    assert observe["generation"] == 1
    assert {"eth_signTypedData_v4", "eth_sendTransaction"} <= set(observe["requests"])
    typed = {"types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                        {"name": "chainId", "type": "uint256"},
                                        {"name": "verifyingContract", "type": "address"}],
                       "Observe": [{"name": "tokenId", "type": "uint256"}, {"name": "generation", "type": "uint64"}]},
             "primaryType": "Observe", "message": {"tokenId": observed_id, "generation": 0},
             "domain": {"name": "Chaos Canvas", "version": "1", "chainId": canvas.chain_id,
                        "verifyingContract": canvas.address}}
    signed = encode_typed_data(full_message=typed)
    assert Account.recover_message(signed, signature=bytes.fromhex(observe["signature"][2:])) == BROWSER_WALLET
    assert functions.observeDigest(observed_id, 0).call() == Web3.keccak(b"\x19\x01" + signed.header + signed.body)
    # What the page asks the server for now: the typed data of the next observation (generation 1), whose
    # digest is the canvas's own; a token with no owner cannot be observed.
    request = _json(gallery, f"/api/tokens/{observed_id}/observe")
    assert (request["owner"], request["generation"], request["typed_data"]["message"]) == (
        BROWSER_WALLET, 1, {"tokenId": str(observed_id), "generation": 1})
    next_signable = encode_typed_data(full_message={**typed, "message": {"tokenId": observed_id, "generation": 1}})
    digest = Web3.keccak(b"\x19\x01" + next_signable.header + next_signable.body)
    assert request["digest"] == "0x" + functions.observeDigest(observed_id, 1).call().hex() == digest.to_0x_hex()
    status, _, body = _get(gallery, "/api/tokens/999/observe")
    assert status == 404 and "token 999 has no owner" in json.loads(body)["error"]
    chain_event = next(e for e in canvas.events(deployment["block"], "latest", token_id=observed_id)
                       if e.generation == 1)
    assert (chain_event.kind, chain_event.args["observer"], chain_event.tx_hash) == (
        "observation", BROWSER_WALLET, observe["tx_hash"])
    # Rendered by the daemon: the page shows the observation generation, its observer and its trust badge.
    assert summary["observed"] == {"generation": "1", "kind": "observation", "observer": BROWSER_WALLET,
                                   "badge": "verified"}
    for name in ("sealed.png", "revealed.png", "observe.png", "observed.png"):
        data = (OUT / "sealed-observe" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000, name

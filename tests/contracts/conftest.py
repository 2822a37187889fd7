"""Shared fixtures for the ChaosCanvas contract tests (`brownie test tests/contracts`).

Each module deploys one canvas (module-scoped fixtures, after brownie's
`module_isolation` has reset the chain) and every test starts from that state
again thanks to `fn_isolation` (an Anvil snapshot taken before, reverted after).

Custom errors: brownie 1.22 has no `typed_error` attribute. It decodes a revert's
data with the ABI of every contract it has loaded and sets the exception's
`revert_msg` to `"<Name>: <arg>, <arg>"` (`"EmptyPrompt: "` for an error without
arguments; addresses in lower case, `bytes32` as a Python `bytes` repr). So
`brownie.reverts(msg)` with that exact string checks the error *and* its
arguments; `reverts_with(name, *args)` below builds it.
"""

import base64
import hashlib
import types

import brownie
import pytest
from eth_abi import encode
from eth_utils import keccak

MINT_PRICE = 10**16
MUTATION_PRICE = 10**15
MAX_SUPPLY = 50
ROYALTY_BPS = 500
MAX_PROMPT_BYTES = 280

ZERO_ADDRESS = "0x" + "00" * 20
RAW, DAG_PB = 0x55, 0x70


# ------------------------------------------------------------------ helpers


def _fmt(value):
    """Format one error argument the way brownie's decode_typed_error does."""
    if hasattr(value, "address"):
        value = value.address
    if isinstance(value, bytes):
        return str(bytes(value))
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return str(value)


def error_message(name, *args):
    return f"{name}: {', '.join(_fmt(a) for a in args)}"


def reverts_with(name, *args):
    """`with reverts_with("WrongPayment", 1, price):` — exact custom error and arguments."""
    return brownie.reverts(error_message(name, *args))


def encode_cid(raw):
    """Base32 multibase ("b" + RFC 4648 lower case, unpadded) of a binary CID."""
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def make_cid(data, codec=RAW):
    """The CIDv1 (base32, sha2-256) of `data` with the given multicodec (raw or dag-pb)."""
    return encode_cid(bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest())


def cid_bytes(cid_string):
    """Inverse of make_cid, strict: the binary CID, or None when `cid_string` is not canonical base32."""
    if not cid_string.startswith("b"):
        return None
    body = cid_string[1:]
    try:
        raw = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except Exception:
        return None
    if encode_cid(raw) != cid_string:
        return None  # upper case, or non-zero padding bits
    return raw


def is_valid_cid(cid_string):
    """Reference rule the contract must follow: CIDv1, raw or dag-pb, sha2-256, canonical base32."""
    raw = cid_bytes(cid_string)
    return raw is not None and len(raw) == 36 and raw[:4] in (bytes([1, RAW, 0x12, 0x20]), bytes([1, DAG_PB, 0x12, 0x20]))


def prevrandao(block_number):
    """block.prevrandao of a mined block (post-merge it is the header's mixHash)."""
    return int.from_bytes(bytes(brownie.web3.eth.get_block(block_number)["mixHash"]), "big")


def expected_seed(tx, minter, token_id, prompt):
    return keccak(encode(["uint256", "address", "uint256", "string"],
                         [prevrandao(tx.block_number), str(minter), token_id, prompt]))


def expected_entropy(tx, token_id, generation, from_, to):
    return keccak(encode(["uint256", "uint256", "uint64", "address", "address"],
                         [prevrandao(tx.block_number), token_id, generation, str(from_), str(to)]))


def mint(canvas, account, prompt="a quiet storm over neon water"):
    """Mint at the right price; returns the new token id."""
    return canvas.mint(prompt, {"from": account, "value": MINT_PRICE}).return_value


def deploy_canvas(container, admin, renderer, max_supply=MAX_SUPPLY):
    try:
        from scripts.deploy import deploy
    except ImportError:
        return container.deploy(admin, renderer, MINT_PRICE, MUTATION_PRICE, max_supply, ROYALTY_BPS,
                                {"from": admin})
    return deploy(admin, renderer, MINT_PRICE, MUTATION_PRICE, max_supply, ROYALTY_BPS)


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def h():
    """The helpers and constants above, for test modules (importing conftest is fragile)."""
    return types.SimpleNamespace(
        MINT_PRICE=MINT_PRICE, MUTATION_PRICE=MUTATION_PRICE, MAX_SUPPLY=MAX_SUPPLY,
        ROYALTY_BPS=ROYALTY_BPS, MAX_PROMPT_BYTES=MAX_PROMPT_BYTES, ZERO_ADDRESS=ZERO_ADDRESS,
        RAW=RAW, DAG_PB=DAG_PB, error_message=error_message, reverts_with=reverts_with,
        encode_cid=encode_cid, make_cid=make_cid, cid_bytes=cid_bytes, is_valid_cid=is_valid_cid,
        prevrandao=prevrandao, expected_seed=expected_seed, expected_entropy=expected_entropy,
        mint=mint, deploy_canvas=deploy_canvas,
    )


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def renderer(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def alice(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def bob(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def carol(accounts):
    return accounts[4]


@pytest.fixture(scope="module")
def canvas(module_isolation, ChaosCanvas, admin, renderer):
    # `module_isolation` first: it resets the chain, which must not wipe the deployment.
    return deploy_canvas(ChaosCanvas, admin, renderer)


@pytest.fixture
def token(isolation, canvas, alice):
    """Token 1, minted by alice, at generation 0 and never committed. Function-scoped
    (minted after the snapshot) so tests that do not ask for it never see it."""
    return mint(canvas, alice)


def pytest_configure(config):
    # brownie's own fixtures call rpc.snapshot/revert and warn about it on every test.
    config.addinivalue_line("filterwarnings", r"ignore:rpc\.\w+ should not be called directly:FutureWarning")

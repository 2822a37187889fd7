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
import importlib.util
import types
from pathlib import Path

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

# ColourPools under test: scripts/deploy.py's defaults, spelled out (the tests check the formulas).
POOL_PARAMS = {
    "hue_count": 12,
    "virtual_eth": 10**18,
    "initial_pigment": 10**24,
    "fee_bps": 30,
    "floor_bps": 2_000,
    "overuse_bps": 5_000,
    "rebase_bps": 1_000,
    "rebase_period": 86_400,
    "twap_window": 3_600,
    "min_trade": 10**15,
}
INDEX_ONE = 10**9
MIN_INDEX = 10**6
WAD = 10**18
FAR_DEADLINE = 2**64  # a deadline that never passes


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


def digest_of(cid_string):
    """The sha2-256 digest a CIDv1 raw CID names (what `commit` takes)."""
    raw = cid_bytes(cid_string)
    assert raw is not None and raw[:4] == bytes([1, RAW, 0x12, 0x20]), cid_string
    return raw[4:]


def packed(records):
    """commitBatch's calldata from (token id, generation, CID or digest) records:
    uint64 tokenId | uint64 generation | bytes32 digest, 48 bytes each."""
    out = b""
    for token_id, generation, cid in records:
        digest = digest_of(cid) if isinstance(cid, str) else bytes(cid)
        out += token_id.to_bytes(8, "big") + generation.to_bytes(8, "big") + digest
    return out


def commit(canvas, token_id, generation, cid, sender):
    """canvas.commit of a CID string, as the renderer sends it (its digest)."""
    return canvas.commit(token_id, generation, digest_of(cid), {"from": sender})


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


def deploy_pools(canvas, admin, **overrides):
    """ColourPools for `canvas` with POOL_PARAMS (and `overrides`), holding the canvas's POOLS_ROLE."""
    from scripts.deploy import deploy_pools as deploy
    return deploy(canvas, admin, **{**POOL_PARAMS, **overrides})


class PoolModel:
    """The pricing, fee and rebase formulas of ColourPools, in exact integer arithmetic."""

    def __init__(self, virtual_eth, initial_pigment, fee_bps, floor_bps, overuse_bps, rebase_bps,
                 rebase_period, twap_window=3_600, min_trade=10**15, **_):
        self.virtual_eth, self.initial_pigment, self.fee_bps = virtual_eth, initial_pigment, fee_bps
        self.floor = initial_pigment * floor_bps // 10_000
        self.overuse = initial_pigment * overuse_bps // 10_000
        self.rebase_bps, self.rebase_period = rebase_bps, rebase_period
        self.twap_window, self.min_trade = twap_window, min_trade

    def buy(self, eth_reserve, pigment_reserve, value):
        """(fee, eth into the curve, pigment out)."""
        fee = value * self.fee_bps // 10_000
        eth_in = value - fee
        return fee, eth_in, pigment_reserve * eth_in // (eth_reserve + self.virtual_eth + eth_in)

    def sell(self, eth_reserve, pigment_reserve, pigment_in):
        """(fee, eth out of the curve, eth to the seller)."""
        gross = (eth_reserve + self.virtual_eth) * pigment_in // (pigment_reserve + pigment_in)
        fee = gross * self.fee_bps // 10_000
        return fee, gross, gross - fee

    def k(self, eth_reserve, pigment_reserve):
        return (eth_reserve + self.virtual_eth) * pigment_reserve

    def price(self, eth_reserve, pigment_reserve):
        return (eth_reserve + self.virtual_eth) * WAD // pigment_reserve

    def step(self, eth_reserve, pigment_reserve, index):
        """One rebase step: (eth reserve, pigment reserve, index, wei freed to the fee pot)."""
        new_index = max(index * (10_000 - self.rebase_bps) // 10_000, MIN_INDEX)
        back = (self.initial_pigment - pigment_reserve) * (index - new_index) // index
        x = eth_reserve + self.virtual_eth
        new_reserve = pigment_reserve + back
        new_x = -(-x * pigment_reserve // new_reserve)  # rounded up: k never decreases
        return new_x - self.virtual_eth, new_reserve, new_index, x - new_x

    def blend(self, tw, reserve, dt, window):
        """The time-weighted reserve moved toward `reserve` over dt seconds."""
        if dt >= window:
            return reserve
        return tw + (reserve - tw) * dt // window if reserve > tw else tw - (tw - reserve) * dt // window


def block_time(tx=None):
    """Timestamp of `tx`'s block, or of the latest block."""
    block = brownie.web3.eth.get_block(tx.block_number if tx is not None else "latest")
    return block["timestamp"]


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def h():
    """The helpers and constants above, for test modules (importing conftest is fragile)."""
    return types.SimpleNamespace(
        MINT_PRICE=MINT_PRICE, MUTATION_PRICE=MUTATION_PRICE, MAX_SUPPLY=MAX_SUPPLY,
        ROYALTY_BPS=ROYALTY_BPS, MAX_PROMPT_BYTES=MAX_PROMPT_BYTES, ZERO_ADDRESS=ZERO_ADDRESS,
        RAW=RAW, DAG_PB=DAG_PB, error_message=error_message, reverts_with=reverts_with,
        encode_cid=encode_cid, make_cid=make_cid, cid_bytes=cid_bytes, is_valid_cid=is_valid_cid,
        digest_of=digest_of, packed=packed, commit=commit,
        prevrandao=prevrandao, expected_seed=expected_seed, expected_entropy=expected_entropy,
        mint=mint, deploy_canvas=deploy_canvas,
        POOL_PARAMS=POOL_PARAMS, INDEX_ONE=INDEX_ONE, MIN_INDEX=MIN_INDEX, WAD=WAD, FAR_DEADLINE=FAR_DEADLINE,
        deploy_pools=deploy_pools, model=PoolModel(**POOL_PARAMS), PoolModel=PoolModel, block_time=block_time,
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


@pytest.fixture(scope="module")
def pools(canvas, admin):
    """ColourPools with POOL_PARAMS for the module's canvas, holding its POOLS_ROLE."""
    return deploy_pools(canvas, admin)


@pytest.fixture
def token(isolation, canvas, alice):
    """Token 1, minted by alice, at generation 0 and never committed. Function-scoped
    (minted after the snapshot) so tests that do not ask for it never see it."""
    return mint(canvas, alice)


def _stateful_from_source():
    """brownie 1.22.2 ships brownie/test/stateful.py compiled with mypyc, and the compiled
    `state_machine` cannot run any machine (hypothesis fails with TypeError "brownie.test.stateful.
    _BrownieStateMachine object expected; got ...BrownieStateMachine"). The module's Python source
    ships beside the binary: run that instead (same code, same API)."""
    import brownie.test

    source = Path(brownie.test.__file__).with_name("stateful.py")
    if not source.is_file():
        from brownie.test.stateful import state_machine
        return state_machine
    spec = importlib.util.spec_from_file_location("brownie_stateful_source", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.state_machine


@pytest.fixture
def state_machine():
    """brownie's rule-based state machine runner (from source: see _stateful_from_source)."""
    return _stateful_from_source()


def pytest_configure(config):
    # brownie's own fixtures call rpc.snapshot/revert and warn about it on every test.
    config.addinivalue_line("filterwarnings", r"ignore:rpc\.\w+ should not be called directly:FutureWarning")

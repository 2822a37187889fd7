"""tokenURI, views, withdraw, royalties, roles, constructor and ERC-165."""

import base64
import json

import pytest
from eth_utils import keccak

PLACEHOLDER_PREFIX = "data:application/json;base64,"


# --------------------------------------------------------------- tokenURI


def _placeholder(canvas, token_id):
    uri = canvas.tokenURI(token_id)
    assert uri and uri.startswith(PLACEHOLDER_PREFIX)
    assert "#" not in uri  # no URL fragment: the JSON is base64-encoded
    return json.loads(base64.b64decode(uri[len(PLACEHOLDER_PREFIX):], validate=True))


def test_placeholder_before_first_commit(canvas, token):
    metadata = _placeholder(canvas, token)
    assert metadata["name"] == f"Chaos Canvas #{token}"
    assert metadata["description"]
    assert {"trait_type": "Status", "value": "Unrendered"} in metadata["attributes"]


def test_placeholder_names_multi_digit_ids(canvas, alice, h):
    ids = [h.mint(canvas, alice) for _ in range(12)]
    assert _placeholder(canvas, ids[-1])["name"] == "Chaos Canvas #12"


def test_placeholder_survives_transfers_until_commit(canvas, token, alice, bob, renderer, h):
    canvas.transferFrom(alice, bob, token, {"from": alice})
    assert _placeholder(canvas, token)["name"] == f"Chaos Canvas #{token}"
    cid = h.make_cid(b"gen 1")
    h.commit(canvas, token, 1, cid, renderer)
    assert canvas.tokenURI(token) == f"ipfs://{cid}"
    canvas.transferFrom(bob, alice, token, {"from": bob})
    assert canvas.tokenURI(token) == f"ipfs://{cid}"  # last commit stays until the next one


def test_token_uri_of_unknown_token(canvas, h):
    with h.reverts_with("ERC721NonexistentToken", 1):
        canvas.tokenURI(1)


def test_views_of_unknown_token(canvas, token, h):
    for view in (canvas.generationOf, canvas.lastCommit):
        with h.reverts_with("ERC721NonexistentToken", token + 1):
            view(token + 1)
        with h.reverts_with("ERC721NonexistentToken", 0):
            view(0)


def test_views_track_state(canvas, token, alice, renderer, h):
    assert canvas.generationOf(token) == 0
    assert tuple(canvas.lastCommit(token)) == (False, 0, "")
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    h.commit(canvas, token, 1, h.make_cid(b"1"), renderer)
    assert canvas.generationOf(token) == 2
    assert tuple(canvas.lastCommit(token)) == (True, 1, h.make_cid(b"1"))


# ---------------------------------------------------------------- withdraw


def _fund(canvas, alice, bob, h):
    h.mint(canvas, alice)
    token = h.mint(canvas, bob)
    canvas.mutate(token, {"from": bob, "value": h.MUTATION_PRICE})
    total = 2 * h.MINT_PRICE + h.MUTATION_PRICE
    assert canvas.balance() == total
    return total


def test_withdraw_moves_everything(canvas, admin, alice, bob, carol, h):
    total = _fund(canvas, alice, bob, h)
    before = carol.balance()
    tx = canvas.withdraw(carol, {"from": admin})
    assert canvas.balance() == 0
    assert carol.balance() == before + total
    assert tx.events["Withdrawn"][0]["to"] == carol
    assert tx.events["Withdrawn"][0]["amount"] == total


def test_withdraw_of_nothing(canvas, admin, carol):
    tx = canvas.withdraw(carol, {"from": admin})
    assert tx.events["Withdrawn"][0]["amount"] == 0


@pytest.mark.parametrize("who", ["renderer", "alice"])
def test_withdraw_admin_only(canvas, alice, bob, h, who, request):
    total = _fund(canvas, alice, bob, h)
    account = request.getfixturevalue(who)
    with h.reverts_with("AccessControlUnauthorizedAccount", account, bytes(32)):
        canvas.withdraw(account, {"from": account})
    assert canvas.balance() == total


def test_withdraw_to_zero_address(canvas, admin, alice, bob, h):
    total = _fund(canvas, alice, bob, h)
    with h.reverts_with("ZeroAddress"):
        canvas.withdraw(h.ZERO_ADDRESS, {"from": admin})
    assert canvas.balance() == total


def test_withdraw_to_rejecting_receiver(canvas, admin, alice, bob, h):
    # The canvas itself has no receive(): sending it ether fails.
    total = _fund(canvas, alice, bob, h)
    with h.reverts_with("WithdrawFailed", canvas.address, total):
        canvas.withdraw(canvas.address, {"from": admin})
    assert canvas.balance() == total


# --------------------------------------------------------------- royalties


@pytest.mark.parametrize("price", [0, 199, 10_000, 10**18, 123_456_789])
def test_royalty_info(canvas, token, admin, h, price):
    receiver, amount = canvas.royaltyInfo(token, price)
    assert receiver == admin
    assert amount == price * h.ROYALTY_BPS // 10_000


def test_set_default_royalty(canvas, token, admin, carol, h):
    canvas.setDefaultRoyalty(carol, 250, {"from": admin})
    assert tuple(canvas.royaltyInfo(token, 10**18)) == (carol, 25 * 10**15)


def test_set_default_royalty_rules(canvas, admin, alice, carol, h):
    with h.reverts_with("AccessControlUnauthorizedAccount", alice, bytes(32)):
        canvas.setDefaultRoyalty(alice, 100, {"from": alice})
    with h.reverts_with("ERC2981InvalidDefaultRoyalty", 10_001, 10_000):
        canvas.setDefaultRoyalty(carol, 10_001, {"from": admin})
    with h.reverts_with("ERC2981InvalidDefaultRoyaltyReceiver", h.ZERO_ADDRESS):
        canvas.setDefaultRoyalty(h.ZERO_ADDRESS, 100, {"from": admin})


# ------------------------------------------------------- roles, constructor


def test_roles(canvas, admin, renderer, alice):
    role = canvas.RENDERER_ROLE()
    assert bytes(role) == keccak(text="RENDERER_ROLE")
    assert canvas.hasRole(bytes(32), admin)
    assert canvas.hasRole(role, renderer)
    assert not canvas.hasRole(role, admin)
    assert not canvas.hasRole(bytes(32), renderer)
    assert not canvas.hasRole(role, alice)


def test_constructor_rejects_zero_admin(ChaosCanvas, admin, renderer, h):
    with h.reverts_with("ZeroAddress"):
        ChaosCanvas.deploy(h.ZERO_ADDRESS, renderer, 1, 1, 1, 0, {"from": admin})


def test_constructor_without_renderer(ChaosCanvas, admin, h):
    canvas = ChaosCanvas.deploy(admin, h.ZERO_ADDRESS, 1, 1, 1, 0, {"from": admin})
    assert not canvas.hasRole(canvas.RENDERER_ROLE(), h.ZERO_ADDRESS)
    assert canvas.hasRole(bytes(32), admin)


def test_constructor_rejects_royalty_over_100_percent(ChaosCanvas, admin, renderer, h):
    with h.reverts_with("ERC2981InvalidDefaultRoyalty", 10_001, 10_000):
        ChaosCanvas.deploy(admin, renderer, 1, 1, 1, 10_001, {"from": admin})


# ------------------------------------------------------------------ ERC-165


@pytest.mark.parametrize("interface_id, supported", [
    ("0x01ffc9a7", True),   # ERC-165
    ("0x80ac58cd", True),   # ERC-721
    ("0x5b5e139f", True),   # ERC-721 metadata
    ("0x2a55205a", True),   # ERC-2981
    ("0x49064906", True),   # ERC-4906
    ("0x7965db0b", True),   # AccessControl
    ("0x780e9d63", False),  # ERC-721 enumerable: not implemented
    ("0xffffffff", False),  # ERC-165 says never
    ("0x00000000", False),
])
def test_supports_interface(canvas, interface_id, supported):
    assert canvas.supportsInterface(interface_id) is supported


def test_interface_ids_are_what_the_standards_say():
    def interface_id(*signatures):
        value = 0
        for signature in signatures:
            value ^= int.from_bytes(keccak(text=signature)[:4], "big")
        return f"0x{value:08x}"

    assert interface_id("supportsInterface(bytes4)") == "0x01ffc9a7"
    assert interface_id("royaltyInfo(uint256,uint256)") == "0x2a55205a"
    assert interface_id("name()", "symbol()", "tokenURI(uint256)") == "0x5b5e139f"
    assert interface_id(
        "balanceOf(address)", "ownerOf(uint256)", "safeTransferFrom(address,address,uint256,bytes)",
        "safeTransferFrom(address,address,uint256)", "transferFrom(address,address,uint256)",
        "approve(address,uint256)", "setApprovalForAll(address,bool)", "getApproved(uint256)",
        "isApprovedForAll(address,address)") == "0x80ac58cd"
    assert interface_id(
        "hasRole(bytes32,address)", "getRoleAdmin(bytes32)", "grantRole(bytes32,address)",
        "revokeRole(bytes32,address)", "renounceRole(bytes32,address)") == "0x7965db0b"

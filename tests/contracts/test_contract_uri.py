"""ERC-7572 collection metadata: contractURI() is valid JSON by default, the admin may replace it."""

import base64
import json

PREFIX = "data:application/json;base64,"


def _decoded(uri):
    assert uri.startswith(PREFIX)
    return json.loads(base64.b64decode(uri[len(PREFIX):], validate=True))


def test_default_contract_uri_is_json_with_the_royalty(canvas, admin, h):
    metadata = _decoded(canvas.contractURI())
    assert metadata["name"] == "Chaos Canvas"
    assert metadata["description"]
    assert metadata["seller_fee_basis_points"] == h.ROYALTY_BPS
    assert metadata["fee_recipient"] == admin.address  # EIP-55 checksummed


def test_default_follows_the_royalty(canvas, admin, bob):
    canvas.setDefaultRoyalty(bob, 250, {"from": admin})
    metadata = _decoded(canvas.contractURI())
    assert (metadata["seller_fee_basis_points"], metadata["fee_recipient"]) == (250, bob.address)


def test_admin_sets_the_uri_and_the_event_is_emitted(canvas, admin):
    tx = canvas.setContractURI("ipfs://bafkreiexamplecollection", {"from": admin})
    assert [e.name for e in tx.events] == ["ContractURIUpdated"]
    assert canvas.contractURI() == "ipfs://bafkreiexamplecollection"
    canvas.setContractURI("", {"from": admin})  # empty: back to the default
    assert _decoded(canvas.contractURI())["name"] == "Chaos Canvas"


def test_only_the_admin_sets_the_uri(canvas, alice, h):
    with h.reverts_with("AccessControlUnauthorizedAccount", alice, canvas.DEFAULT_ADMIN_ROLE()):
        canvas.setContractURI("ipfs://mine", {"from": alice})
    assert _decoded(canvas.contractURI())["name"] == "Chaos Canvas"

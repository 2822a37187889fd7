"""commit / commitBatch: renderer role, existing token, generation order, CID format, events."""

import base64
import hashlib
import random
import string

import pytest


def _commit_event_names(tx):
    return [e.name for e in tx.events]


# ------------------------------------------------------------ happy paths


def test_helper_cids_are_real(h):
    # Known values (`ipfs add --cid-version=1 --raw-leaves` of an empty file and of "hello\n").
    assert h.make_cid(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert h.make_cid(b"hello\n") == "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am"
    assert h.make_cid(b"x", h.DAG_PB).startswith("bafybei")
    assert all(len(h.make_cid(bytes([i]), codec)) == 59 for i in range(20) for codec in (h.RAW, h.DAG_PB))


@pytest.mark.parametrize("codec", ["raw", "dag-pb"])
def test_commit_valid_cid(canvas, token, renderer, h, codec):
    cid = h.make_cid(b"metadata of generation 0", h.RAW if codec == "raw" else h.DAG_PB)
    assert cid.startswith("bafkrei" if codec == "raw" else "bafybei")
    tx = canvas.commit(token, 0, cid, {"from": renderer})
    assert tuple(canvas.lastCommit(token)) == (True, 0, cid)
    assert canvas.tokenURI(token) == "ipfs://" + cid
    assert _commit_event_names(tx) == ["RenderCommitted", "MetadataUpdate"]
    committed = tx.events["RenderCommitted"][0]
    assert (committed["tokenId"], committed["generation"], committed["cid"]) == (token, 0, cid)
    assert tx.events["MetadataUpdate"][0]["_tokenId"] == token


def test_commit_each_generation_in_order(canvas, token, alice, bob, renderer, h):
    for generation in range(1, 4):
        canvas.transferFrom(*((alice, bob) if generation % 2 else (bob, alice)), token,
                            {"from": alice if generation % 2 else bob})
        cid = h.make_cid(b"gen %d" % generation)
        canvas.commit(token, generation, cid, {"from": renderer})
        assert tuple(canvas.lastCommit(token)) == (True, generation, cid)
        assert canvas.tokenURI(token) == "ipfs://" + cid


def test_commit_older_generation_after_newer_transfer(canvas, token, alice, bob, renderer, h):
    canvas.transferFrom(alice, bob, token, {"from": alice})
    canvas.transferFrom(bob, alice, token, {"from": bob})
    assert canvas.generationOf(token) == 2
    # Generation 1 was never committed and is newer than nothing: allowed.
    cid1, cid2 = h.make_cid(b"gen 1"), h.make_cid(b"gen 2")
    canvas.commit(token, 1, cid1, {"from": renderer})
    assert tuple(canvas.lastCommit(token)) == (True, 1, cid1)
    canvas.commit(token, 2, cid2, {"from": renderer})
    assert tuple(canvas.lastCommit(token)) == (True, 2, cid2)
    with h.reverts_with("StaleGeneration", token, 1, 2):
        canvas.commit(token, 1, cid1, {"from": renderer})


def test_skipping_generations_is_allowed(canvas, token, alice, bob, renderer, h):
    for _ in range(3):
        canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    canvas.commit(token, 3, h.make_cid(b"gen 3"), {"from": renderer})
    with h.reverts_with("StaleGeneration", token, 0, 3):
        canvas.commit(token, 0, h.make_cid(b"gen 0"), {"from": renderer})


def test_commit_does_not_touch_generation_or_owner(canvas, token, alice, renderer, h):
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    canvas.commit(token, 0, h.make_cid(b"g0"), {"from": renderer})
    assert canvas.generationOf(token) == 1
    assert canvas.ownerOf(token) == alice
    canvas.commit(token, 1, h.make_cid(b"g1"), {"from": renderer})  # current survived the commit


def test_role_granted_later_can_commit(canvas, token, admin, bob, h):
    role = canvas.RENDERER_ROLE()
    canvas.grantRole(role, bob, {"from": admin})
    canvas.commit(token, 0, h.make_cid(b"by bob"), {"from": bob})
    canvas.revokeRole(role, bob, {"from": admin})
    with h.reverts_with("AccessControlUnauthorizedAccount", bob, role):
        canvas.commit(token, 0, h.make_cid(b"by bob"), {"from": bob})


# ---------------------------------------------------------- failing paths


@pytest.mark.parametrize("who", ["admin", "alice", "bob"])
def test_commit_needs_renderer_role(canvas, token, h, who, request):
    account = request.getfixturevalue(who)
    with h.reverts_with("AccessControlUnauthorizedAccount", account, canvas.RENDERER_ROLE()):
        canvas.commit(token, 0, h.make_cid(b"x"), {"from": account})
    assert tuple(canvas.lastCommit(token)) == (False, 0, "")


@pytest.mark.parametrize("token_id", [0, 2, 999])
def test_commit_unknown_token(canvas, token, renderer, h, token_id):
    with h.reverts_with("ERC721NonexistentToken", token_id):
        canvas.commit(token_id, 0, h.make_cid(b"x"), {"from": renderer})


def test_commit_burnt_token(canvas, token, alice, renderer, h):
    canvas.burn(token, {"from": alice})
    with h.reverts_with("ERC721NonexistentToken", token):
        canvas.commit(token, 0, h.make_cid(b"x"), {"from": renderer})


def test_commit_future_generation(canvas, token, alice, bob, renderer, h):
    with h.reverts_with("FutureGeneration", token, 1, 0):
        canvas.commit(token, 1, h.make_cid(b"x"), {"from": renderer})
    canvas.transferFrom(alice, bob, token, {"from": alice})
    with h.reverts_with("FutureGeneration", token, 2, 1):
        canvas.commit(token, 2, h.make_cid(b"x"), {"from": renderer})
    with h.reverts_with("FutureGeneration", token, 2**64 - 1, 1):
        canvas.commit(token, 2**64 - 1, h.make_cid(b"x"), {"from": renderer})


def test_commit_same_generation_twice_is_stale(canvas, token, renderer, h):
    canvas.commit(token, 0, h.make_cid(b"first"), {"from": renderer})
    with h.reverts_with("StaleGeneration", token, 0, 0):
        canvas.commit(token, 0, h.make_cid(b"second"), {"from": renderer})
    assert tuple(canvas.lastCommit(token)) == (True, 0, h.make_cid(b"first"))


def test_stale_checked_before_cid(canvas, token, renderer, h):
    canvas.commit(token, 0, h.make_cid(b"first"), {"from": renderer})
    with h.reverts_with("StaleGeneration", token, 0, 0):
        canvas.commit(token, 0, "garbage", {"from": renderer})


def _b32(raw):
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


DIGEST = hashlib.sha256(b"x").digest()
VALID = _b32(bytes([1, 0x55, 0x12, 0x20]) + DIGEST)
MALFORMED = {
    "empty": "",
    "one-short": VALID[:-1],
    "one-long": VALID + "a",
    "cidv0": "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
    "all-upper": VALID.upper(),
    "one-upper": VALID[:30] + VALID[30].upper() + VALID[31:],
    "base32-upper-multibase": "B" + VALID[1:],
    "base58-multibase": "z" + VALID[1:],
    "dag-cbor": _b32(bytes([1, 0x71, 0x12, 0x20]) + DIGEST),  # a real CID ("bafyrei…"), other codec
    "mixed-prefix-k-b": "bafkbei" + VALID[7:],
    "cidv1-prefix-typo": "bafkrai" + VALID[7:],
    "char-0": VALID[:40] + "0" + VALID[41:],
    "char-1": VALID[:40] + "1" + VALID[41:],
    "char-8": VALID[:40] + "8" + VALID[41:],
    "char-9": VALID[:40] + "9" + VALID[41:],
    "char-equals": VALID[:58] + "=",
    "char-dash": VALID[:20] + "-" + VALID[21:],
    "char-space": VALID[:20] + " " + VALID[21:],
    "char-at": VALID[:20] + "@" + VALID[21:],   # just below 'a'
    "char-brace": VALID[:20] + "{" + VALID[21:],  # just above 'z'
    "non-ascii": VALID[:20] + "é" + VALID[22:],  # still 59 bytes
    "ipfs-uri": "ipfs://" + VALID[:52],
    "digest-length-0x21": _b32(bytes([1, 0x55, 0x12, 0x21]) + DIGEST),
    "sha2-512-code": _b32(bytes([1, 0x55, 0x13, 0x20]) + DIGEST),
    "padding-bits": VALID[:58] + ("b" if VALID[58] == "a" else chr(ord(VALID[58]) + 1)),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_cid(canvas, token, renderer, h, name):
    cid = MALFORMED[name]
    assert not h.is_valid_cid(cid)
    with h.reverts_with("MalformedCid", cid):
        canvas.commit(token, 0, cid, {"from": renderer})
    assert tuple(canvas.lastCommit(token)) == (False, 0, "")


def test_cid_rule_matches_reference(canvas, token, renderer, h):
    """Every single-character change of a valid CID at the prefix, the 8th and the last
    character, and random changes elsewhere, is accepted exactly when it is a canonical
    sha2-256 raw/dag-pb CIDv1 (checked with eth_call, nothing is stored)."""
    alphabet = string.ascii_lowercase + "234567"
    rng = random.Random(1234)
    candidates = set()
    for base in (h.make_cid(b"ref"), h.make_cid(b"ref", h.DAG_PB)):
        candidates.add(base)
        for position in list(range(9)) + [58]:
            for char in alphabet + "AZ019=":
                candidates.add(base[:position] + char + base[position + 1:])
        for _ in range(40):
            position = rng.randrange(9, 58)
            candidates.add(base[:position] + rng.choice(alphabet + "A0189") + base[position + 1:])
    for i in range(30):
        candidates.add(h.make_cid(b"random %d" % i, rng.choice([h.RAW, h.DAG_PB])))
    accepted = rejected = 0
    for cid in sorted(candidates):
        if h.is_valid_cid(cid):
            canvas.commit.call(token, 0, cid, {"from": renderer})
            accepted += 1
        else:
            with h.reverts_with("MalformedCid", cid):
                canvas.commit.call(token, 0, cid, {"from": renderer})
            rejected += 1
    assert accepted > 100 and rejected > 300


# ------------------------------------------------------------- commitBatch


def test_batch_many_tokens(canvas, alice, bob, renderer, h):
    ids = [h.mint(canvas, alice if i % 2 else bob) for i in range(10)]
    commits = [(token_id, 0, h.make_cid(b"token %d" % token_id)) for token_id in ids]
    tx = canvas.commitBatch(commits, {"from": renderer})
    for token_id, _, cid in commits:
        assert tuple(canvas.lastCommit(token_id)) == (True, 0, cid)
        assert canvas.tokenURI(token_id) == "ipfs://" + cid
    assert _commit_event_names(tx) == ["RenderCommitted", "MetadataUpdate"] * 10
    assert [e["tokenId"] for e in tx.events["RenderCommitted"]] == ids
    assert [e["cid"] for e in tx.events["RenderCommitted"]] == [c[2] for c in commits]
    assert [e["_tokenId"] for e in tx.events["MetadataUpdate"]] == ids


def test_batch_generations_of_one_token_in_order(canvas, token, alice, renderer, h):
    for _ in range(3):
        canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    commits = [(token, g, h.make_cid(b"gen %d" % g, h.DAG_PB)) for g in range(4)]
    tx = canvas.commitBatch(commits, {"from": renderer})
    assert [e["generation"] for e in tx.events["RenderCommitted"]] == [0, 1, 2, 3]
    assert tuple(canvas.lastCommit(token)) == (True, 3, commits[3][2])


def test_batch_empty_is_a_no_op(canvas, renderer):
    tx = canvas.commitBatch([], {"from": renderer})
    assert len(tx.events) == 0


def _assert_nothing_committed(canvas, ids):
    for token_id in ids:
        assert tuple(canvas.lastCommit(token_id)) == (False, 0, "")


def test_batch_out_of_order_reverts_all(canvas, token, alice, renderer, h):
    other = h.mint(canvas, alice)
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    commits = [(other, 0, h.make_cid(b"o")), (token, 2, h.make_cid(b"2")), (token, 1, h.make_cid(b"1"))]
    with h.reverts_with("StaleGeneration", token, 1, 2):
        canvas.commitBatch(commits, {"from": renderer})
    _assert_nothing_committed(canvas, [token, other])


def test_batch_duplicate_generation_reverts_all(canvas, token, renderer, h):
    commits = [(token, 0, h.make_cid(b"a")), (token, 0, h.make_cid(b"b"))]
    with h.reverts_with("StaleGeneration", token, 0, 0):
        canvas.commitBatch(commits, {"from": renderer})
    _assert_nothing_committed(canvas, [token])


@pytest.mark.parametrize("bad", ["malformed", "future", "unknown"])
def test_batch_bad_last_entry_reverts_all(canvas, token, alice, renderer, h, bad):
    ids = [token] + [h.mint(canvas, alice) for _ in range(3)]
    commits = [(token_id, 0, h.make_cid(b"%d" % token_id)) for token_id in ids]
    if bad == "malformed":
        commits.append((ids[0], 1, "bafkrei-not-a-cid"))
        canvas.mutate(ids[0], {"from": alice, "value": h.MUTATION_PRICE})
        expected = ("MalformedCid", "bafkrei-not-a-cid")
    elif bad == "future":
        commits.append((ids[1], 1, h.make_cid(b"f")))
        expected = ("FutureGeneration", ids[1], 1, 0)
    else:
        commits.append((77, 0, h.make_cid(b"u")))
        expected = ("ERC721NonexistentToken", 77)
    with h.reverts_with(*expected):
        canvas.commitBatch(commits, {"from": renderer})
    _assert_nothing_committed(canvas, ids)


def test_batch_needs_renderer_role(canvas, token, admin, h):
    with h.reverts_with("AccessControlUnauthorizedAccount", admin, canvas.RENDERER_ROLE()):
        canvas.commitBatch([(token, 0, h.make_cid(b"x"))], {"from": admin})
    _assert_nothing_committed(canvas, [token])


# ----------------------------------------------- stored as digest + codec


EDGE_DIGESTS = [bytes(32), b"\xff" * 32, b"\x80" + bytes(31), bytes(31) + b"\x01",
                bytes(range(32)), b"\xe0" + b"\x07" * 31]


def test_views_rebuild_the_exact_cid(canvas, token, alice, renderer, h):
    """The canvas keeps only the digest and the codec: lastCommit and tokenURI must give back
    exactly the string that was committed, for edge digests and random ones, both codecs."""
    rng = random.Random(99)
    digests = EDGE_DIGESTS + [bytes(rng.randrange(256) for _ in range(32)) for _ in range(10)]
    generation = 0
    for i, digest in enumerate(digests):
        codec = h.RAW if i % 2 else h.DAG_PB
        cid = h.encode_cid(bytes([1, codec, 0x12, 0x20]) + digest)
        assert h.is_valid_cid(cid)
        if i:
            canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
            generation += 1
        canvas.commit(token, generation, cid, {"from": renderer})
        assert tuple(canvas.lastCommit(token)) == (True, generation, cid)
        assert canvas.tokenURI(token) == "ipfs://" + cid

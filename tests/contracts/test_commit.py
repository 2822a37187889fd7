"""commit / commitBatch: renderer role, existing token, generation order, digests, packed batches, events."""

import random

import eth_abi
import pytest

from renderer.commit_records import unpack_records


def _event_names(tx):
    return [e.name for e in tx.events]


def _batch_records(tx):
    """The (token id, generation, digest) records of the transaction's one BatchRenderCommitted."""
    (event,) = tx.events["BatchRenderCommitted"]
    return [tuple(record) for record in unpack_records(bytes(event["records"]))]


# ------------------------------------------------------------ happy paths


def test_helper_cids_are_real(h):
    # Known values (`ipfs add --cid-version=1 --raw-leaves` of an empty file and of "hello\n").
    assert h.make_cid(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert h.make_cid(b"hello\n") == "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am"
    assert all(len(h.make_cid(bytes([i]))) == 59 for i in range(20))


def test_commit_digest(canvas, token, renderer, h):
    cid = h.make_cid(b"metadata of generation 0")
    tx = h.commit(canvas, token, 0, cid, renderer)
    assert tuple(canvas.lastCommit(token)) == (True, 0, cid)
    assert canvas.tokenURI(token) == "ipfs://" + cid
    assert _event_names(tx) == ["RenderCommitted", "MetadataUpdate"]
    committed = tx.events["RenderCommitted"][0]
    assert (committed["tokenId"], committed["generation"]) == (token, 0)
    assert bytes(committed["digest"]) == h.digest_of(cid)
    assert tx.events["MetadataUpdate"][0]["_tokenId"] == token


def test_commit_each_generation_in_order(canvas, token, alice, bob, renderer, h):
    for generation in range(1, 4):
        canvas.transferFrom(*((alice, bob) if generation % 2 else (bob, alice)), token,
                            {"from": alice if generation % 2 else bob})
        cid = h.make_cid(b"gen %d" % generation)
        h.commit(canvas, token, generation, cid, renderer)
        assert tuple(canvas.lastCommit(token)) == (True, generation, cid)
        assert canvas.tokenURI(token) == "ipfs://" + cid


def test_commit_older_generation_after_newer_transfer(canvas, token, alice, bob, renderer, h):
    canvas.transferFrom(alice, bob, token, {"from": alice})
    canvas.transferFrom(bob, alice, token, {"from": bob})
    assert canvas.generationOf(token) == 2
    # Generation 1 was never committed and is newer than nothing: allowed.
    cid1, cid2 = h.make_cid(b"gen 1"), h.make_cid(b"gen 2")
    h.commit(canvas, token, 1, cid1, renderer)
    assert tuple(canvas.lastCommit(token)) == (True, 1, cid1)
    h.commit(canvas, token, 2, cid2, renderer)
    assert tuple(canvas.lastCommit(token)) == (True, 2, cid2)
    with h.reverts_with("StaleGeneration", token, 1, 2):
        h.commit(canvas, token, 1, cid1, renderer)


def test_skipping_generations_is_allowed(canvas, token, alice, bob, renderer, h):
    for _ in range(3):
        canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    h.commit(canvas, token, 3, h.make_cid(b"gen 3"), renderer)
    with h.reverts_with("StaleGeneration", token, 0, 3):
        h.commit(canvas, token, 0, h.make_cid(b"gen 0"), renderer)


def test_commit_does_not_touch_generation_or_owner(canvas, token, alice, renderer, h):
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    h.commit(canvas, token, 0, h.make_cid(b"g0"), renderer)
    assert canvas.generationOf(token) == 1
    assert canvas.ownerOf(token) == alice
    h.commit(canvas, token, 1, h.make_cid(b"g1"), renderer)  # current survived the commit
    assert canvas.generationOf(token) == 1
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})  # and the block stamp too
    assert canvas.generationOf(token) == 2


def test_role_granted_later_can_commit(canvas, token, admin, bob, h):
    role = canvas.RENDERER_ROLE()
    canvas.grantRole(role, bob, {"from": admin})
    h.commit(canvas, token, 0, h.make_cid(b"by bob"), bob)
    canvas.revokeRole(role, bob, {"from": admin})
    with h.reverts_with("AccessControlUnauthorizedAccount", bob, role):
        h.commit(canvas, token, 0, h.make_cid(b"by bob"), bob)


# ---------------------------------------------------------- failing paths


@pytest.mark.parametrize("who", ["admin", "alice", "bob"])
def test_commit_needs_renderer_role(canvas, token, h, who, request):
    account = request.getfixturevalue(who)
    with h.reverts_with("AccessControlUnauthorizedAccount", account, canvas.RENDERER_ROLE()):
        h.commit(canvas, token, 0, h.make_cid(b"x"), account)
    assert tuple(canvas.lastCommit(token)) == (False, 0, "")


@pytest.mark.parametrize("token_id", [0, 2, 999])
def test_commit_unknown_token(canvas, token, renderer, h, token_id):
    with h.reverts_with("ERC721NonexistentToken", token_id):
        h.commit(canvas, token_id, 0, h.make_cid(b"x"), renderer)


def test_commit_burnt_token(canvas, token, alice, renderer, h):
    canvas.burn(token, {"from": alice})
    with h.reverts_with("ERC721NonexistentToken", token):
        h.commit(canvas, token, 0, h.make_cid(b"x"), renderer)


def test_commit_future_generation(canvas, token, alice, bob, renderer, h):
    with h.reverts_with("FutureGeneration", token, 1, 0):
        h.commit(canvas, token, 1, h.make_cid(b"x"), renderer)
    canvas.transferFrom(alice, bob, token, {"from": alice})
    with h.reverts_with("FutureGeneration", token, 2, 1):
        h.commit(canvas, token, 2, h.make_cid(b"x"), renderer)
    with h.reverts_with("FutureGeneration", token, 2**64 - 1, 1):
        h.commit(canvas, token, 2**64 - 1, h.make_cid(b"x"), renderer)


def test_commit_same_generation_twice_is_stale(canvas, token, renderer, h):
    h.commit(canvas, token, 0, h.make_cid(b"first"), renderer)
    with h.reverts_with("StaleGeneration", token, 0, 0):
        h.commit(canvas, token, 0, h.make_cid(b"second"), renderer)
    assert tuple(canvas.lastCommit(token)) == (True, 0, h.make_cid(b"first"))


# ------------------------------------------------------------- commitBatch


def test_batch_many_tokens(canvas, alice, bob, renderer, h):
    ids = [h.mint(canvas, alice if i % 2 else bob) for i in range(10)]
    commits = [(token_id, 0, h.make_cid(b"token %d" % token_id)) for token_id in ids]
    tx = canvas.commitBatch(h.packed(commits), {"from": renderer})
    for token_id, _, cid in commits:
        assert tuple(canvas.lastCommit(token_id)) == (True, 0, cid)
        assert canvas.tokenURI(token_id) == "ipfs://" + cid
    # One event for the batch (EIP-2309 style), no RenderCommitted per token.
    assert _event_names(tx) == ["BatchRenderCommitted", "BatchMetadataUpdate"]
    assert bytes(tx.events["BatchRenderCommitted"][0]["records"]) == h.packed(commits)
    assert _batch_records(tx) == [(token_id, 0, h.digest_of(cid)) for token_id, _, cid in commits]
    update = tx.events["BatchMetadataUpdate"][0]
    assert (update["_fromTokenId"], update["_toTokenId"]) == (min(ids), max(ids))


def test_batch_record_layout(canvas, alice, renderer, h):
    """The 48-byte record: uint64 tokenId | uint64 generation | bytes32 digest, big-endian, no padding."""
    token = h.mint(canvas, alice)
    for _ in range(5):
        canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    digest = bytes(range(32))
    record = (token).to_bytes(8, "big") + (5).to_bytes(8, "big") + digest
    assert record == h.packed([(token, 5, digest)])
    tx = canvas.commitBatch(record, {"from": renderer})
    assert bytes(tx.events["BatchRenderCommitted"][0]["records"]) == record
    assert _batch_records(tx) == [(token, 5, digest)]
    assert canvas.BATCH_RECORD_BYTES() == 48


@pytest.mark.parametrize("size", [1, 2, 3, 10])
def test_batch_event_data_is_canonical_abi(canvas, alice, renderer, h, size):
    """The event's data is built in assembly: it must be exactly the ABI encoding of `bytes records`
    (offset, length, the records, zero padding to a word), whether 48 x size is a whole number of
    words (even sizes) or not (odd sizes, 16 bytes of padding)."""
    ids = [h.mint(canvas, alice) for _ in range(size)]
    commits = [(token_id, 0, bytes([token_id % 256]) * 32) for token_id in ids]
    tx = canvas.commitBatch(h.packed(commits), {"from": renderer})
    topic = canvas.topics["BatchRenderCommitted"]
    (log,) = [log for log in tx.logs if log["topics"][0].hex().removeprefix("0x") == topic.removeprefix("0x")]
    assert bytes(log["data"]) == eth_abi.encode(["bytes"], [h.packed(commits)])


def test_batch_generations_of_one_token_in_order(canvas, token, alice, renderer, h):
    for _ in range(3):
        canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    commits = [(token, g, h.make_cid(b"gen %d" % g)) for g in range(4)]
    tx = canvas.commitBatch(h.packed(commits), {"from": renderer})
    assert [generation for _, generation, _ in _batch_records(tx)] == [0, 1, 2, 3]
    assert tuple(canvas.lastCommit(token)) == (True, 3, commits[3][2])


@pytest.mark.parametrize("length", [0, 1, 47, 49, 95])
def test_batch_malformed_length(canvas, token, renderer, h, length):
    data = h.packed([(token, 0, h.make_cid(b"x")), (token, 0, h.make_cid(b"y"))])[:length]
    with h.reverts_with("MalformedBatch", length, 48):
        canvas.commitBatch(data, {"from": renderer})


def _assert_nothing_committed(canvas, ids):
    for token_id in ids:
        assert tuple(canvas.lastCommit(token_id)) == (False, 0, "")


def test_batch_out_of_order_reverts_all(canvas, token, alice, renderer, h):
    other = h.mint(canvas, alice)
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
    commits = [(other, 0, h.make_cid(b"o")), (token, 2, h.make_cid(b"2")), (token, 1, h.make_cid(b"1"))]
    with h.reverts_with("StaleGeneration", token, 1, 2):
        canvas.commitBatch(h.packed(commits), {"from": renderer})
    _assert_nothing_committed(canvas, [token, other])


def test_batch_duplicate_generation_reverts_all(canvas, token, renderer, h):
    commits = [(token, 0, h.make_cid(b"a")), (token, 0, h.make_cid(b"b"))]
    with h.reverts_with("StaleGeneration", token, 0, 0):
        canvas.commitBatch(h.packed(commits), {"from": renderer})
    _assert_nothing_committed(canvas, [token])


@pytest.mark.parametrize("bad", ["future", "unknown", "zero"])
def test_batch_bad_last_entry_reverts_all(canvas, token, alice, renderer, h, bad):
    ids = [token] + [h.mint(canvas, alice) for _ in range(3)]
    commits = [(token_id, 0, h.make_cid(b"%d" % token_id)) for token_id in ids]
    if bad == "future":
        commits.append((ids[1], 1, h.make_cid(b"f")))
        expected = ("FutureGeneration", ids[1], 1, 0)
    elif bad == "unknown":
        commits.append((77, 0, h.make_cid(b"u")))  # never minted: a renderer bug, not a race
        expected = ("ERC721NonexistentToken", 77)
    else:
        commits.append((0, 0, h.make_cid(b"z")))
        expected = ("ERC721NonexistentToken", 0)
    with h.reverts_with(*expected):
        canvas.commitBatch(h.packed(commits), {"from": renderer})
    _assert_nothing_committed(canvas, ids)


def test_batch_skips_a_burnt_token(canvas, token, alice, bob, renderer, h):
    """Audit: a token burnt just before the batch lands used to revert the whole batch."""
    others = [h.mint(canvas, bob) for _ in range(2)]
    canvas.burn(token, {"from": alice})
    commits = [(others[0], 0, h.make_cid(b"a")), (token, 0, h.make_cid(b"burnt")), (others[1], 0, h.make_cid(b"b"))]
    tx = canvas.commitBatch(h.packed(commits), {"from": renderer})
    assert _event_names(tx) == ["CommitSkipped", "BatchRenderCommitted", "BatchMetadataUpdate"]
    skipped = tx.events["CommitSkipped"][0]
    assert (skipped["tokenId"], skipped["generation"]) == (token, 0)
    # The records are exactly the committed ones: the burnt token is not among them.
    assert bytes(tx.events["BatchRenderCommitted"][0]["records"]) == h.packed([commits[0], commits[2]])
    assert [token_id for token_id, _, _ in _batch_records(tx)] == others
    assert tuple(canvas.lastCommit(others[0])) == (True, 0, h.make_cid(b"a"))
    assert tuple(canvas.lastCommit(others[1])) == (True, 0, h.make_cid(b"b"))


def test_batch_of_only_burnt_tokens_emits_no_metadata_update(canvas, token, alice, renderer, h):
    canvas.burn(token, {"from": alice})
    tx = canvas.commitBatch(h.packed([(token, 0, h.make_cid(b"x"))]), {"from": renderer})
    assert _event_names(tx) == ["CommitSkipped"]


def test_batch_needs_renderer_role(canvas, token, admin, h):
    with h.reverts_with("AccessControlUnauthorizedAccount", admin, canvas.RENDERER_ROLE()):
        canvas.commitBatch(h.packed([(token, 0, h.make_cid(b"x"))]), {"from": admin})
    _assert_nothing_committed(canvas, [token])


# --------------------------------------------------- stored as a digest


EDGE_DIGESTS = [bytes(32), b"\xff" * 32, b"\x80" + bytes(31), bytes(31) + b"\x01",
                bytes(range(32)), b"\xe0" + b"\x07" * 31]


def test_views_rebuild_the_exact_cid(canvas, token, alice, renderer, h):
    """The canvas keeps only the digest: lastCommit and tokenURI must give back exactly the
    CIDv1 raw base32 string of the committed digest, for edge digests and random ones."""
    rng = random.Random(99)
    digests = EDGE_DIGESTS + [bytes(rng.randrange(256) for _ in range(32)) for _ in range(10)]
    generation = 0
    for i, digest in enumerate(digests):
        cid = h.encode_cid(bytes([1, h.RAW, 0x12, 0x20]) + digest)
        assert h.is_valid_cid(cid) and cid.startswith("bafkrei")
        if i:
            canvas.mutate(token, {"from": alice, "value": h.MUTATION_PRICE})
            generation += 1
        canvas.commit(token, generation, digest, {"from": renderer})
        assert tuple(canvas.lastCommit(token)) == (True, generation, cid)
        assert canvas.tokenURI(token) == "ipfs://" + cid

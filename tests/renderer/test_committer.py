"""The committer's batching rule, without a chain (its store is a real SQLite store)."""

import time

from renderer.pipeline.committer import Committer

from .events import mint_event, mutation_event


def _committer(store, linger=0.2):
    return Committer(None, store, None, batch_size=3, receipt_timeout=1, stuck_after=1, linger=linger)


def _pin(store, token_id, generation=0):
    store.advance(store.job(token_id, generation), "rendered", metadata_cid=f"bafk-{token_id}-{generation}")
    store.advance(store.job(token_id, generation), "pinned")


def test_a_lone_event_is_committed_at_once(store):
    store.ingest([mint_event(token_id=1)], 2, "0x" + "22" * 32)
    _pin(store, 1)
    committer = _committer(store, linger=60)
    assert not committer._hold(1, more_coming=True)  # nothing else on its way: no wait for the cap
    assert committer._holding_since is None


def test_a_partial_batch_waits_while_another_tokens_render_is_on_its_way(store):
    store.ingest([mint_event(token_id=1), mint_event(token_id=2, block=3)], 3, "0x" + "33" * 32)
    _pin(store, 1)
    committer = _committer(store, linger=60)
    assert committer._hold(1, more_coming=True)  # token 2's mint is out on a worker
    assert not committer._hold(1, more_coming=False)  # rendered inline (no workers): never waits
    assert not committer._hold(3, more_coming=True)  # full
    assert not _committer(store, linger=0)._hold(1, more_coming=True)  # lingering turned off
    _pin(store, 2)
    assert not committer._hold(2, more_coming=True)  # it came: nothing else on its way


def test_work_coming_counts_only_tokens_that_could_still_join_the_batch(store):
    store.ingest([mint_event(token_id=1), mutation_event(token_id=1, generation=1, block=4)], 4, "0x" + "44" * 32)
    _pin(store, 1)
    assert not store.work_coming_for_other_tokens()  # token 1's next generation: it is in the batch already
    store.ingest([mutation_event(token_id=2, generation=1, block=5)], 5, "0x" + "55" * 32)
    assert not store.work_coming_for_other_tokens()  # blocked: its parent is not rendered
    store.ingest([mint_event(token_id=3, block=6)], 6, "0x" + "66" * 32)
    assert store.work_coming_for_other_tokens()  # a mint: renderable now
    store.advance(store.job(3, 0), "rendered")
    assert store.work_coming_for_other_tokens()  # rendered, to be pinned
    store.advance(store.job(3, 0), "failed")
    assert not store.work_coming_for_other_tokens()


def test_a_partial_commit_does_not_wait_longer_than_its_linger(store):
    store.ingest([mint_event(token_id=1), mint_event(token_id=2, block=3)], 3, "0x" + "33" * 32)
    _pin(store, 1)
    committer = _committer(store)
    assert committer._hold(1, more_coming=True)
    time.sleep(0.25)
    assert not committer._hold(1, more_coming=True)  # waited long enough


def test_a_lingering_batch_skips_the_commit_query_until_it_could_be_full_or_the_linger_ends(store):
    store.ingest([mint_event(token_id=t, block=t + 1) for t in (1, 2, 3, 4)], 5, "0x" + "55" * 32)
    _pin(store, 1), _pin(store, 2)
    committer = _committer(store)
    assert not committer._still_holding(more_coming=True)  # not holding yet: query
    assert committer._hold(2, more_coming=True)
    assert committer._still_holding(more_coming=True)
    assert not committer._still_holding(more_coming=False)  # nothing out on workers: commit now
    _pin(store, 3)
    assert not committer._still_holding(more_coming=True)  # it may be full: query
    store.advance(store.job(3, 0), "sent")
    assert committer._still_holding(more_coming=True)
    store.advance(store.job(4, 0), "failed")
    assert not committer._still_holding(more_coming=True)  # nothing else on its way: commit now
    store.ingest([mint_event(token_id=5, block=6)], 6, "0x" + "66" * 32)
    assert committer._still_holding(more_coming=True)
    time.sleep(0.25)
    assert not committer._still_holding(more_coming=True)  # the linger is over

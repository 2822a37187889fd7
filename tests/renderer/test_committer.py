"""The committer's batching rule, without a chain."""

import time

from renderer.pipeline.committer import Committer


def test_a_partial_commit_waits_for_renders_still_out_but_not_longer_than_its_linger():
    committer = Committer(None, None, None, batch_size=3, receipt_timeout=1, stuck_after=1, linger=0.2)
    assert not committer._hold(2, more_coming=False)  # nothing out on workers: commit now
    assert not committer._hold(3, more_coming=True)  # full
    assert committer._hold(2, more_coming=True)
    time.sleep(0.25)
    assert not committer._hold(2, more_coming=True)  # waited long enough
    assert not Committer(None, None, None, batch_size=3, receipt_timeout=1, stuck_after=1)._hold(1, True)


class _PinnedTokens:
    def __init__(self, count):
        self.count = count

    def pinned_tokens(self):
        return self.count


def test_a_lingering_batch_skips_the_commit_query_until_it_could_be_full_or_the_linger_ends():
    store = _PinnedTokens(2)
    committer = Committer(None, store, None, batch_size=3, receipt_timeout=1, stuck_after=1, linger=0.2)
    assert not committer._still_holding(more_coming=True)  # not holding yet: query
    assert committer._hold(2, more_coming=True)
    assert committer._still_holding(more_coming=True)
    assert not committer._still_holding(more_coming=False)  # nothing out on workers: commit now
    store.count = 3
    assert not committer._still_holding(more_coming=True)  # it may be full: query
    store.count = 2
    time.sleep(0.25)
    assert not committer._still_holding(more_coming=True)  # the linger is over

import sqlite3

import pytest

from renderer.errors import StoreError
from renderer.store import JobStore

from .events import mint_event, mutation_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture
def store(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite", 31337, CANVAS, start_block=1)
    yield store
    store.close()


def test_ingest_moves_the_cursor_with_the_jobs(store):
    assert store.next_block == 1
    assert store.ingest([mint_event(), mutation_event()], 9, "0x" + "99" * 32) == 2
    assert store.next_block == 10
    assert [(j.token_id, j.generation, j.kind, j.state) for j in store.jobs()] == \
        [(1, 0, "mint", "pending"), (1, 1, "mutation", "pending")]
    assert store.job(1, 0).event == mint_event()


def test_ingest_is_idempotent(store):
    store.ingest([mint_event()], 3, "0x" + "33" * 32)
    assert store.ingest([mint_event()], 3, "0x" + "33" * 32) == 0
    assert len(store.jobs()) == 1


def test_state_survives_reopening(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite", 31337, CANVAS)
    store.ingest([mint_event()], 5, "0x" + "55" * 32)
    store.advance(store.job(1, 0), "rendered", image_cid="bafkreiimage", metadata_cid="bafkreimeta")
    store.close()
    again = JobStore(tmp_path / "jobs.sqlite", 31337, CANVAS)
    job = again.job(1, 0)
    assert (job.state, job.image_cid, again.next_block) == ("rendered", "bafkreiimage", 6)
    assert again.counts()["rendered"] == 1


def test_advance_refuses_a_job_that_moved_meanwhile(store):
    store.ingest([mint_event()], 3, "0x" + "33" * 32)
    stale = store.job(1, 0)
    store.advance(stale, "rendered")
    with pytest.raises(StoreError, match="not in state 'pending'"):
        store.advance(stale, "rendered")


def test_a_store_belongs_to_one_chain_and_canvas(tmp_path):
    JobStore(tmp_path / "jobs.sqlite", 31337, CANVAS).close()
    with pytest.raises(StoreError, match="chain_id 31337, not 1"):
        JobStore(tmp_path / "jobs.sqlite", 1, CANVAS)
    with pytest.raises(StoreError, match="canvas"):
        JobStore(tmp_path / "jobs.sqlite", 31337, "0x" + "00" * 20)


def test_a_corrupt_store_is_a_clear_error(tmp_path):
    path = tmp_path / "jobs.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="unreadable.*move it aside"):
        JobStore(path, 31337, CANVAS)
    assert path.read_bytes() == b"this is not a database" * 100  # left untouched


def test_errors_are_recorded(store):
    store.ingest([mint_event()], 3, "0x" + "33" * 32)
    store.record_error(store.job(1, 0), "IPFS down")
    assert store.job(1, 0).attempts == 1
    assert store.last_error() == "IPFS down"


def test_unknown_state_is_refused(store):
    store.ingest([mint_event()], 3, "0x" + "33" * 32)
    with pytest.raises(ValueError):
        store.advance(store.job(1, 0), "done")
    assert isinstance(store.db, sqlite3.Connection)

import json
import sqlite3

import pytest

from renderer.chain import CanvasEvent
from renderer.errors import StoreError
from renderer.store import _READY_TO_RENDER, RENDERED_STATES, JobStore

from .events import CANVAS, mint_event, mutation_event


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


def _pinned(store, token_id, generation):
    job = store.job(token_id, generation)
    store.advance(job, "rendered", metadata_cid=f"bafk-{token_id}-{generation}")
    store.advance(store.job(token_id, generation), "pinned")


def test_only_jobs_whose_parent_is_rendered_are_ready(store):
    store.ingest([mint_event(), mutation_event(generation=1, block=4), mutation_event(generation=2, block=5),
                  mint_event(token_id=2, block=3)], 9, "0x" + "99" * 32)
    assert [j.key for j in store.ready_to_render(10)] == [(1, 0), (2, 0)]
    assert [j.key for j in store.ready_to_render(10, busy={(1, 0)})] == [(2, 0)]
    assert [j.key for j in store.ready_to_render(1)] == [(1, 0)]
    store.advance(store.job(1, 0), "rendered")
    assert [j.key for j in store.ready_to_render(10)] == [(2, 0), (1, 1)]


def test_a_commit_takes_the_newest_generation_of_an_unbroken_pinned_run(store):
    store.ingest([mint_event(), *(mutation_event(generation=g, block=3 + g) for g in (1, 2, 3)),
                  mint_event(token_id=2, block=3)], 9, "0x" + "99" * 32)
    for generation in (0, 1, 3):
        _pinned(store, 1, generation)
    runs = store.ready_to_commit(10)
    assert [[j.key for j in run] for run in runs] == [[(1, 0), (1, 1)]]  # 3 waits for 2
    _pinned(store, 1, 2)
    _pinned(store, 2, 0)
    assert [[j.key for j in run] for run in store.ready_to_commit(10)] == \
        [[(1, 0), (1, 1), (1, 2), (1, 3)], [(2, 0)]]
    assert len(store.ready_to_commit(1)) == 1

    # While a token's commit is out, none of its generations is offered again.
    store.advance(store.job(1, 3), "sent", commit_nonce=7)
    assert [[j.key for j in run] for run in store.ready_to_commit(10)] == [[(2, 0)]]
    assert store.max_sent_nonce() == 7

    covered = store.settle(store.job(1, 3), "committed", commit_block=20)
    assert covered == 3
    assert [(store.job(1, g).state, store.job(1, g).covered_by) for g in range(4)] == \
        [("covered", 3)] * 3 + [("committed", None)]
    assert store.ready_to_render(10) == []
    assert [[j.key for j in run] for run in store.ready_to_commit(10)] == [[(2, 0)]]


def test_settling_below_a_generation_the_chain_holds_supersedes_the_waiting_ones(store):
    store.ingest([mint_event(), mutation_event(generation=1, block=4)], 9, "0x" + "99" * 32)
    _pinned(store, 1, 0)
    _pinned(store, 1, 1)
    store.settle(store.job(1, 1), "superseded", last_error="generation 2 was committed first")
    assert store.job(1, 0).state == "superseded"
    with pytest.raises(ValueError):
        store.settle(store.job(1, 0), "pinned")


def test_a_schema_1_store_gains_the_new_columns_and_keeps_its_jobs(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
        CREATE TABLE jobs (token_id INTEGER NOT NULL, generation INTEGER NOT NULL, kind TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending', event TEXT NOT NULL, block_number INTEGER NOT NULL,
            image_path TEXT, metadata_path TEXT, image_cid TEXT, metadata_cid TEXT, changed_pixel_fraction REAL,
            commit_tx TEXT, commit_nonce INTEGER, commit_max_fee INTEGER, commit_priority_fee INTEGER,
            commit_sent_at REAL, commit_block INTEGER, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            updated_at REAL NOT NULL, PRIMARY KEY (token_id, generation));
    """)
    db.executemany("INSERT INTO meta VALUES (?, ?)", [("schema", "1"), ("chain_id", "31337"),
                                                      ("canvas", CANVAS.lower()), ("next_block", "7"),
                                                      ("start_block", "1")])
    db.execute("INSERT INTO jobs (token_id, generation, kind, state, event, block_number, updated_at) "
               "VALUES (1, 0, 'mint', 'committed', ?, 2, 0)", (mint_event().to_json(),))
    db.commit()
    db.close()
    store = JobStore(path, 31337, CANVAS)
    job = store.job(1, 0)
    assert (job.state, job.age_cid, job.covered_by, store.next_block) == ("committed", None, None, 7)
    store.close()


def test_an_event_is_stored_as_the_same_json_text_as_before_and_reads_back_equal():
    from dataclasses import asdict, replace

    event = replace(mutation_event(), colour={"pools": [{"reserve": 10**20, "pigment": "0x" + "ab" * 32}]},
                    congestion={"base_fee": 10**9, "glitched": True})
    text = event.to_json()
    assert text == json.dumps(asdict(event), sort_keys=True)  # every field, the text stores already hold
    assert CanvasEvent.from_json(text) == event
    assert CanvasEvent.from_json(mint_event().to_json()) == mint_event()


def test_ready_jobs_are_found_oldest_event_first_without_sorting_the_backlog(store):
    store.ingest([mint_event(token_id=t, block=10 - t) for t in range(1, 6)], 9, "0x" + "99" * 32)
    assert [j.token_id for j in store.ready_to_render(3)] == [5, 4, 3]
    plan = " ".join(row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + _READY_TO_RENDER,
                                                        (*RENDERED_STATES, 3)))
    assert "jobs_by_state_block" in plan and "TEMP B-TREE" not in plan

import pytest

from renderer.store import JobStore

from .events import CANVAS


@pytest.fixture
def store(tmp_path):
    """A real SQLite job store for chain 31337, reading from block 1."""
    store = JobStore(tmp_path / "jobs.sqlite", 31337, CANVAS, start_block=1)
    yield store
    store.close()

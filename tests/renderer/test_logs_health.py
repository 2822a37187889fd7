import json
import logging
import random

from renderer.health import Health, backoff_delay
from renderer.logs import JsonFormatter


def test_json_log_lines_carry_the_extra_fields():
    record = logging.LogRecord("chaos.daemon", logging.INFO, __file__, 1, "committed %d render(s)", (3,), None)
    record.event, record.tx = "committed", "0xabc"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "committed 3 render(s)"
    assert line["level"] == "info" and line["logger"] == "chaos.daemon"
    assert line["event"] == "committed" and line["tx"] == "0xabc"


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rng = random.Random(7)
    delays = [backoff_delay(n, base=1, cap=30, rng=rng) for n in range(8)]
    for n, delay in enumerate(delays):
        ceiling = min(30, 2**n)
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(backoff_delay(3, rng=rng), 6) for _ in range(20)}) > 1  # jittered


def test_health_logs_once_per_change(caplog):
    health = Health(logging.getLogger("chaos.test"))
    with caplog.at_level(logging.INFO, logger="chaos.test"):
        for _ in range(3):
            health.down("rpc", ConnectionError("refused"))
        assert health.degraded
        for _ in range(3):
            health.up("rpc")
    assert [r.message.split(",")[0].split(" after")[0] for r in caplog.records] == \
        ["rpc unreachable", "rpc reachable again"]
    assert not health.degraded

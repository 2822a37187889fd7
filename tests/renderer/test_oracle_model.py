"""The thermal oracle's model (renderer.oracle): line fits, forecasts, digests, when to post;
and the Phoenix market's choice of the frame to sell (renderer.phoenix_market)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from eth_utils import keccak

from renderer.errors import ChaosError
from renderer.oracle import OnChain, forecast, line_fit, replay_tail, sample_digest, why_not_post
from renderer.phoenix_market import frame_sale, phoenix_level
from renderer.telemetry import Reading, ReplayTelemetry, Sample

NOW = 1_800_000_000
GB = 10**9


def readings(temperatures, memory=None, source="replay"):
    memory = memory or [None] * len(temperatures)
    return [Reading(source, Sample(temperature_c=t, memory_used_bytes=m, memory_total_bytes=80 * GB if m else None),
                    f"trace.jsonl:{i + 1}") for i, (t, m) in enumerate(zip(temperatures, memory))]


def test_line_fit_is_exact_on_a_line_and_r_squared_drops_with_noise():
    assert line_fit([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx((1, 2, 1))
    _, slope, r2 = line_fit([0, 1, 2, 3, 4, 5], [0, 5, 1, 6, 2, 7])
    assert 0 < slope and r2 < 0.5
    assert line_fit([0, 1, 2], [4, 4, 4]) == (4, 0, 1)  # flat: a perfect fit of no trend


def test_a_warming_trace_forecasts_the_crossing_of_the_phoenix_threshold():
    f = forecast(readings([60 + 2 * i for i in range(12)]), NOW, max_temperature_c=85, period_s=60)
    # 82 C now, +2 C per 60 s: 85 C in 90 s.
    assert f.foreseen and f.expected_at == NOW + 90 and f.deciding == "temperature"
    assert f.confidence == 10_000 and f.source == "replay" and "replayed trace" in f.origin
    (fit,) = f.fits
    assert fit.slope_per_s == pytest.approx(2 / 60) and fit.crosses_in_s == pytest.approx(90)


def test_memory_can_decide_and_already_over_means_now():
    warm = readings([70] * 6, [int((60 + 5 * i) * GB) for i in range(6)])  # 75%..100% of 80 GB by 5 GB/min
    f = forecast(warm, NOW, memory_limit=0.95, period_s=60, window=6)
    assert f.deciding == "memory" and f.expected_at == NOW + 60  # already over: within the minute
    hot = forecast(readings([97, 97, 97]), NOW, window=3)
    assert hot.expected_at == NOW + 60 and hot.fits[0].crosses_in_s == 0


def test_cooling_or_far_off_trends_foresee_nothing_and_confidence_follows_coverage():
    cooling = forecast(readings([80, 78, 76, 74]), NOW, window=8)
    assert not cooling.foreseen and cooling.expected_at == 0 and cooling.confidence == 5_000  # 4 of 8 samples
    slow = forecast(readings([40, 40, 41, 41]), NOW, window=4, horizon_s=3_600)  # 85 C in days
    assert not slow.foreseen
    absent = forecast([Reading("absent", None, "no GPU")] * 3, NOW, window=3)
    assert absent.fits == () and absent.confidence == 0 and "no telemetry" in absent.origin
    with pytest.raises(ChaosError, match="window of at least 2"):
        forecast(readings([50]), NOW, window=1)


def test_the_sample_digest_names_the_samples_fitted():
    used = readings([60, 61, 62])
    lines = "".join(json.dumps(r.sample.to_json(), sort_keys=True, separators=(",", ":")) + "\n" for r in used)
    assert sample_digest(used) == keccak(lines.encode())
    assert forecast(used, NOW, window=3).sample_digest == sample_digest(used)
    assert sample_digest(readings([60, 61, 63])) != sample_digest(used)


def test_replay_tail_reads_the_end_of_the_trace(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"temperature_c": t}) + "\n" for t in range(50, 70)))
    tail = replay_tail(ReplayTelemetry(path), 5)
    assert [r.sample.temperature_c for r in tail] == [65, 66, 67, 68, 69] and tail[-1].origin == "t.jsonl:20"


def test_posts_only_meaningful_changes_and_never_inside_the_interval():
    new = forecast(readings([60 + 2 * i for i in range(12)]), NOW)
    nothing = OnChain(0, 0, 0, b"", 0)
    assert why_not_post(new, nothing, NOW) is None  # first post
    same = OnChain(new.expected_at + 60, new.confidence - 500, NOW - 4_000, b"", NOW - 400)
    assert "unchanged" in why_not_post(new, same, NOW)
    moved = OnChain(new.expected_at + 600, new.confidence, NOW - 4_000, b"", NOW - 400)
    assert why_not_post(new, moved, NOW) is None
    less_sure = OnChain(new.expected_at, new.confidence - 1_000, NOW - 4_000, b"", NOW - 400)
    assert why_not_post(new, less_sure, NOW) is None
    calm = OnChain(0, 10_000, NOW - 4_000, b"", NOW - 400)
    assert why_not_post(new, calm, NOW) is None  # a collapse is now foreseen
    too_soon = OnChain(0, 0, NOW - 10, b"", NOW + 590)
    assert "one post per interval: next at" in why_not_post(new, too_soon, NOW)


def _job(tmp_path, generation, phoenix, image="bafkreiimage", metadata="bafkreimeta"):
    path = tmp_path / f"{generation}.json"
    path.write_text(json.dumps({"provenance": {"phoenix": phoenix}}))
    return SimpleNamespace(token_id=7, generation=generation, metadata_path=str(path), image_cid=image,
                           metadata_cid=metadata)


def test_a_rebirth_sells_the_frame_before_it_and_nothing_else(tmp_path):
    reborn = _job(tmp_path, 3, {"reason": "temperature", "level": 1})
    parent = _job(tmp_path, 2, None, "bafkreiparentimage", "bafkreiparentmeta")
    sale = frame_sale(reborn, parent)
    assert (sale.token_id, sale.generation, sale.phoenix_generation) == (7, 2, 3)
    assert (sale.metadata_cid, sale.image_cid) == ("bafkreiparentmeta", "bafkreiparentimage")
    assert frame_sale(_job(tmp_path, 3, None), parent) is None  # not reborn
    assert frame_sale(_job(tmp_path, 0, {"reason": "cuda-oom", "level": 2}), None) is None  # a mint: no frame before
    assert frame_sale(reborn, None) is None  # the parent was never rendered here
    assert phoenix_level({"provenance": {"phoenix": {"level": 2}}}) == 2 and phoenix_level({}) == 0


def test_collect_waits_between_live_samples_and_not_for_an_absent_gpu():
    from renderer.oracle import collect
    from renderer.telemetry import AbsentTelemetry

    slept = []
    assert len(collect(AbsentTelemetry("no driver"), 12, 60, sleep=slept.append)) == 1 and slept == []

    class Live:  # a source without a replay's `samples`: real time passes between its readings
        def sample(self):
            return Reading("nvml", Sample(temperature_c=70), "GPU 0")

    assert len(collect(Live(), 3, 5, sleep=slept.append)) == 3 and slept == [5, 5]

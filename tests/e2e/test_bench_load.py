import pytest

from renderer.bench_load import run_load_bench


@pytest.mark.e2e
def test_load_bench_runs_small_and_prints_its_figures(tmp_path, capsys):
    result = run_load_bench(tmp_path, mints=4, transfers=8, unbatched_sample=2, image_size=32)
    out = capsys.readouterr().out.strip().splitlines()
    assert result["events"] == 12
    assert result["commit_transactions"] < 12  # batched
    assert result["gas_per_render_batched"] < result["gas_per_render_unbatched"]
    assert 0 < result["latency_p50_s"] <= result["latency_p95_s"]
    assert out[-1].startswith("drain: ") and "events/s, p95 latency" in out[-1]

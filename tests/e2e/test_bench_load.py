import pytest

from renderer.devtools.bench_load import run_load_bench


@pytest.mark.e2e
def test_load_bench_runs_small_per_worker_count_and_prints_its_figures(tmp_path, capsys):
    result = run_load_bench(tmp_path, mints=4, transfers=8, unbatched_sample=2, image_size=32, workers=[0, 1])
    out = capsys.readouterr().out.strip().splitlines()
    assert [run["events"] for run in result["runs"]] == [12, 12]  # every event settled in each run
    assert result["commit_transactions"] < 12  # batched
    assert result["gas_per_render_batched"] < result["gas_per_render_unbatched"]
    assert 0 < result["latency_p50_s"] <= result["latency_p95_s"]
    for run in result["runs"]:
        cpu = run["cpu_ms_per_event"]
        assert cpu["store"] > 0 and cpu["commit (RPC, signing)"] > 0
        assert any(label.startswith(("render mint", "worker render mint")) for label in cpu)
    assert "worker render mint" in result["runs"][1]["cpu_ms_per_event"]  # the Ray worker's own CPU time
    assert [line.split(":")[0] for line in out if line.startswith("workers ")] == ["workers 0", "workers 1"]
    assert out[-1].startswith("drain: ") and "events/s, p95 latency" in out[-1]

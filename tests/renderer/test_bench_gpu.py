"""The GPU benchmark script, run for real in its CPU smoke mode (the SD 1.5 run needs CUDA)."""

import json

import pytest
import torch

from renderer import bench_gpu


def test_the_smoke_run_reports_every_figure(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench_gpu.main(["--device", "cpu", "--tiny", "--steps", "2", "1", "--repeats", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["dtype"] == "float32" and report["size"] == 64
    assert report["unet_parameters"] > 1_000_000
    assert report["flops_per_step"] > 0 and report["flops_fixed"] > 0 and report["peak_flops_per_s_measured"] > 0
    one, two = report["runs"]
    assert (one["steps"], two["steps"]) == (1, 2)
    assert two["flops"] == one["flops"] + report["flops_per_step"]
    for run in report["runs"]:
        assert run["images_per_s"] == pytest.approx(1 / run["seconds"])
        assert run["seconds_per_step"] == pytest.approx(run["seconds"] / run["steps"])
        assert run["achieved_flops_per_s"] == pytest.approx(run["flops"] / run["seconds"])
        peak = report["peak_flops_per_s_measured"]
        assert 0 < run["peak_fraction"] == pytest.approx(run["achieved_flops_per_s"] / peak)
        assert run["peak_memory_bytes"] is None  # a CPU has no GPU memory to report
    assert one["marginal_seconds_per_step"] is None
    assert two["marginal_seconds_per_step"] == pytest.approx(two["seconds"] - one["seconds"])
    table = capsys.readouterr().out
    assert "images/s" in table and "of peak" in table and "tiny SD-architecture" in table


def test_the_sd15_configs_are_sd15():
    from diffusers import AutoencoderKL, UNet2DConditionModel

    with torch.device("meta"):  # shapes only: no memory, no time
        unet, vae = UNet2DConditionModel(**bench_gpu.SD15_UNET), AutoencoderKL(**bench_gpu.SD15_VAE)
    assert sum(p.numel() for p in unet.parameters()) == 859_520_964  # SD 1.5's UNet
    assert sum(p.numel() for p in vae.parameters()) == 83_653_863
    assert bench_gpu.SD15_TEXT["hidden_size"] == 768 and bench_gpu.SD15_TEXT["num_hidden_layers"] == 12


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_without_cuda_it_says_so_and_fails(capsys):
    assert bench_gpu.main([]) == bench_gpu.NO_CUDA_EXIT != 0
    error = capsys.readouterr().err
    assert "no CUDA GPU" in error and "--device cpu --tiny" in error

"""The GPU benchmark script, run for real in its CPU smoke mode (the SD 1.5 run needs CUDA)."""

import json

import pytest
import torch

from renderer.devtools import bench_gpu


def test_the_smoke_run_reports_every_figure(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench_gpu.main(["--device", "cpu", "--tiny", "--steps", "2", "1", "--batch", "1", "--repeats", "1",
                           "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["dtype"] == "float32" and report["size"] == 64
    assert report["unet_parameters"] > 1_000_000
    assert report["flops_per_step"] > 0 and report["flops_fixed"] > 0 and report["peak_flops_per_s_measured"] > 0
    one, two = report["runs"]
    assert (one["steps"], two["steps"]) == (1, 2) and one["batch"] == two["batch"] == 1
    assert one["speedup"] == two["speedup"] == 1
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


def test_batches_are_timed_per_call_and_compared_with_one_image(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench_gpu.main(["--device", "cpu", "--tiny", "--steps", "1", "--batch", "3", "1", "--repeats", "1",
                           "--size", "32", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["batches"] == [1, 3]
    single, triple = report["runs"]
    assert (single["batch"], triple["batch"]) == (1, 3)
    per_image = report["flops_fixed"] + report["flops_per_step"]
    assert single["flops"] == per_image and triple["flops"] == 3 * per_image
    assert triple["images_per_s"] == pytest.approx(3 / triple["seconds"])
    assert triple["speedup"] == pytest.approx(triple["images_per_s"] / single["images_per_s"])
    assert triple["peak_fraction"] == pytest.approx(triple["flops"] / triple["seconds"]
                                                    / report["peak_flops_per_s_measured"])
    assert "speed-up" in capsys.readouterr().out


def test_the_timed_call_is_the_batched_one(monkeypatch):
    from renderer.backends.diffusion import DiffusionBackend

    sizes = []
    original = DiffusionBackend.create_batch
    monkeypatch.setattr(DiffusionBackend, "create_batch", lambda self, items: sizes.append(len(items))
                        or original(self, items))
    bench_gpu.run("cpu", True, [1], 16, 2, [4])
    # FLOPs counted on single images at 1 and 2 steps; then a warm-up and two timed calls of 4.
    assert sizes == [1, 1, 4, 4, 4]


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
    assert "no CUDA GPU" in error and "nothing was measured" in error and "--device cpu --tiny" in error

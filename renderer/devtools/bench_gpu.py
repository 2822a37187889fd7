"""GPU benchmark: Stable Diffusion 1.5's architecture (random weights) through the diffusion backend.

    python -m renderer.devtools.bench_gpu [--steps 1 4 20] [--batch 1 4 8] [--size 512] [--repeats 3] [--json FILE]
    python -m renderer.devtools.bench_gpu --device cpu --tiny     # a seconds-long smoke run of this script
    chaos bench gpu [same options]                       # the same, from the `chaos` command

The model is SD 1.5's UNet (859.5 M parameters), VAE and CLIP ViT-L/14 text encoder, built
from their configs with random weights (no weights can be downloaded here, and speed does not
depend on their values), in float16 on CUDA. Each timed call is `DiffusionBackend.create_batch`
of BATCH mints (txt2img, one prompt and one seeded generator per image, classifier-free
guidance 7.5: every UNet call sees a batch of 2 x BATCH) at SIZE x SIZE: the call a diffusion
worker makes for `chaos daemon --gpu-batch BATCH`. For each step count and batch size it reports:

    images_per_s               BATCH / median call time (after one warm-up call)
    speedup                    images_per_s / images_per_s at batch 1 (same steps; when timed)
    seconds_per_step           median call time / steps
    marginal_seconds_per_step  (t(n) - t(n_min)) / (n - n_min) at the same batch: a step's cost
                               without the fixed text-encoder and VAE-decoder work
    peak_memory_bytes          torch.cuda.max_memory_allocated over the timed calls (CUDA only)
    flops                      FLOPs of one call: BATCH x the FLOPs of one image, counted by
                               torch's FlopCounterMode (matmuls, convolutions, attention) on
                               single-image renders of 1 and 2 steps and extended linearly,
                               flops(n) = fixed + n * per_step (every stage is per image)
    achieved_flops_per_s       flops / median call time
    peak_fraction              achieved / the device's measured peak: the best of three timings
                               of dense N x N matmuls in the render dtype (N = 8192 on CUDA)

Without CUDA (and --device cuda, the default) it says so, measures nothing and exits with
status 2: no figure is ever estimated or carried over from another machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32)
SD15_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=32,
    sample_size=512, scaling_factor=0.18215)
SD15_TEXT = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                 vocab_size=49408, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
PROMPT = "a storm over the harbour, oil on canvas"
NO_CUDA_EXIT = 2


def build_sd15_pipeline(device: str, dtype):
    """SD 1.5's architecture with random weights, made directly on `device`."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from .tiny_model import BOS, EOS, tiny_tokenizer

    tokenizer = tiny_tokenizer()  # token ids only index the embedding: a small vocabulary times the same
    vocab = tokenizer.get_vocab()
    with torch.device(device):  # initialise on the GPU: 1 G parameters on the CPU would take minutes
        unet = UNet2DConditionModel(**SD15_UNET)
        vae = AutoencoderKL(**SD15_VAE)
        text_encoder = CLIPTextModel(CLIPTextConfig(**SD15_TEXT, bos_token_id=vocab[BOS], eos_token_id=vocab[EOS],
                                                    pad_token_id=vocab[EOS]))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipeline = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    return pipeline.to(device=device, dtype=dtype)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_peak_flops(device: str, dtype, size: int, iterations: int) -> float:
    """The best of three timings of `iterations` dense size x size matmuls, in FLOP/s."""
    import torch

    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(3):
        _sync(device)
        started = time.perf_counter()
        for _ in range(iterations):
            a @ b
        _sync(device)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 * iterations / best


def count_flops(backend_with_steps, size: int, palette) -> tuple[int, int]:
    """(fixed, per_step) FLOPs of one render, from counting renders of 1 and 2 steps."""
    from torch.utils.flop_counter import FlopCounterMode

    counted = []
    for steps in (1, 2):
        counter = FlopCounterMode(display=False)
        with counter:
            backend_with_steps(steps).create(PROMPT, bytes(32), palette, size, size)
        counted.append(counter.get_total_flops())
    per_step = counted[1] - counted[0]
    return counted[0] - per_step, per_step


def time_calls(backend, size: int, palette, batch: int, repeats: int, device: str) -> list[float]:
    """Seconds per `create_batch` call of `batch` mints (distinct seeds), after one warm-up call."""
    from ..backends.base import Creation

    times = []
    for repeat in range(repeats + 1):
        items = [Creation(PROMPT, (repeat * batch + i).to_bytes(32, "big"), palette, size, size) for i in range(batch)]
        _sync(device)
        started = time.perf_counter()
        backend.create_batch(items)
        _sync(device)
        times.append(time.perf_counter() - started)
    return times[1:]  # the first warms up kernels and allocator


def run(device: str, tiny: bool, steps: list[int], size: int, repeats: int, batches: list[int] = (1,)) -> dict:
    import torch

    from ..backends.diffusion import DiffusionBackend, check_device
    from .tiny_model import build_tiny_pipeline
    from ..palette import base_palette

    device = check_device(device)
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    if tiny:
        pipeline, model = build_tiny_pipeline().to(device=device, dtype=dtype), "tiny SD-architecture (random weights)"
    else:
        pipeline, model = build_sd15_pipeline(device, dtype), "SD 1.5 architecture (random weights)"
    palette = base_palette("0x" + "ab" * 20)
    largest = max(batches)

    def backend_with_steps(steps: int) -> DiffusionBackend:
        return DiffusionBackend.from_pipeline(pipeline, device=device, model_id=model, steps=steps, guidance=7.5,
                                              max_batch=largest)

    fixed, per_step = count_flops(backend_with_steps, size, palette)
    cuda = device.startswith("cuda")
    peak = measure_peak_flops(device, dtype, 8192 if cuda else 256, 20 if cuda else 10)
    runs = []
    for n in sorted(set(steps)):
        backend = backend_with_steps(n)
        for batch in sorted(set(batches)):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            seconds = statistics.median(time_calls(backend, size, palette, batch, repeats, device))
            flops = batch * (fixed + n * per_step)
            runs.append({"steps": n, "batch": batch, "seconds": seconds, "images_per_s": batch / seconds,
                         "seconds_per_step": seconds / n, "flops": flops, "achieved_flops_per_s": flops / seconds,
                         "peak_fraction": flops / seconds / peak,
                         "peak_memory_bytes": torch.cuda.max_memory_allocated() if cuda else None})
    for entry in runs:
        same_batch = [r for r in runs if r["batch"] == entry["batch"]]
        first = same_batch[0]
        entry["marginal_seconds_per_step"] = ((entry["seconds"] - first["seconds"]) / (entry["steps"] - first["steps"])
                                              if entry["steps"] > first["steps"] else None)
        single = [r for r in runs if r["steps"] == entry["steps"] and r["batch"] == 1]
        entry["speedup"] = entry["images_per_s"] / single[0]["images_per_s"] if single else None
    return {"device": torch.cuda.get_device_name(device) if cuda else "cpu", "dtype": str(dtype).removeprefix("torch."),
            "model": model, "unet_parameters": sum(p.numel() for p in pipeline.unet.parameters()),
            "size": size, "guidance": 7.5, "repeats": repeats, "batches": sorted(set(batches)),
            "flops_fixed": fixed, "flops_per_step": per_step,
            "peak_flops_per_s_measured": peak, "torch": torch.__version__, "runs": runs}


def format_report(report: dict) -> str:
    lines = [f"{report['model']} on {report['device']} ({report['dtype']}), {report['size']}x{report['size']}, "
             f"UNet {report['unet_parameters'] / 1e6:.1f} M parameters",
             f"measured peak {report['peak_flops_per_s_measured'] / 1e12:.2f} TFLOP/s (dense matmul)",
             f"{'steps':>5} {'batch':>5} {'images/s':>9} {'speed-up':>8} {'s/step':>8} {'marginal':>9} "
             f"{'TFLOP/call':>10} {'TFLOP/s':>8} {'of peak':>8} {'peak mem':>9}"]
    for run_ in report["runs"]:
        marginal = "-" if run_["marginal_seconds_per_step"] is None else f"{run_['marginal_seconds_per_step']:.4f}"
        memory = "-" if run_["peak_memory_bytes"] is None else f"{run_['peak_memory_bytes'] / 2**30:.2f} GiB"
        speedup = "-" if run_["speedup"] is None else f"{run_['speedup']:.2f}x"
        lines.append(f"{run_['steps']:>5} {run_['batch']:>5} {run_['images_per_s']:>9.3f} {speedup:>8} "
                     f"{run_['seconds_per_step']:>8.4f} {marginal:>9} {run_['flops'] / 1e12:>10.3f} "
                     f"{run_['achieved_flops_per_s'] / 1e12:>8.2f} {run_['peak_fraction']:>8.1%} {memory:>9}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options; shared with `chaos bench gpu`."""
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--tiny", action="store_true", help="the tiny test model instead of SD 1.5 (smoke run)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 4, 20],
                        help="denoising step counts to time (default 1 4 20)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4, 8],
                        help="pictures per pipeline call to time, as `chaos daemon --gpu-batch` (default 1 4 8)")
    parser.add_argument("--size", type=int, help="image side in pixels (default 512; 64 with --tiny)")
    parser.add_argument("--repeats", type=int, default=3, help="timed renders per step count (default 3)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m renderer.devtools.bench_gpu", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return parser


def no_cuda_reason(device: str) -> str | None:
    """Why `device` cannot run here (a CUDA device on a machine without one), in one line; None if it can."""
    if not device.startswith("cuda"):
        return None
    import torch

    if torch.cuda.is_available():
        return None
    return (f"no CUDA GPU (torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}), so nothing was "
            "measured. Run it on a machine with an NVIDIA GPU, or smoke-test the script with --device cpu --tiny.")


def bench(args: argparse.Namespace, prog: str = "bench_gpu") -> int:
    """Run the benchmark for parsed `add_arguments` options and print the table; `prog` names the
    command in error lines (the script itself or `chaos bench gpu`)."""
    reason = no_cuda_reason(args.device)
    if reason:
        print(f"{prog}: {reason}", file=sys.stderr)
        return NO_CUDA_EXIT
    if min(args.steps) < 1 or min(args.batch) < 1 or args.repeats < 1:
        print(f"{prog}: --steps, --batch and --repeats must be at least 1", file=sys.stderr)
        return 2
    report = run(args.device, args.tiny, args.steps, args.size or (64 if args.tiny else 512), args.repeats,
                 args.batch)
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    return bench(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

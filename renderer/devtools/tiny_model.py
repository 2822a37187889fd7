"""A tiny Stable-Diffusion-architecture pipeline built from configs, for tests and smoke runs.

Same classes as a real SD 1.x model folder (UNet2DConditionModel, AutoencoderKL,
CLIPTextModel, CLIPTokenizer, DDIMScheduler) with tiny dimensions and random weights, the
way diffusers' own tests build theirs. Nothing is downloaded: the tokenizer's vocabulary is
made in memory (the 256 byte-level symbols, each also with the end-of-word mark, plus the
two special tokens; no merges). Saved with `save_tiny_model`, the folder loads through the
same code path as a real model (`renderer.backends.diffusion`).

Its pictures are noise-like (random weights); it exists to exercise the code, not to paint.
"""

from __future__ import annotations

from pathlib import Path

BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (GPT-2's bytes_to_unicode)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {byte: byte for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = 256 + extra
            extra += 1
    return [chr(mapping[byte]) for byte in range(256)]


def tiny_vocab() -> dict[str, int]:
    tokens = [*byte_symbols(), *(s + "</w>" for s in byte_symbols()), BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}


def tiny_tokenizer():
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer(vocab=tiny_vocab(), merges=[])
    tokenizer.model_max_length = 77
    return tokenizer


def build_tiny_pipeline(seed: int = 0):
    """A StableDiffusionPipeline with tiny random weights (VAE scale factor 2, 64x64 in ~0.1 s on a CPU)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = tiny_tokenizer()
    vocab = tokenizer.get_vocab()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=32)
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=32,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=vocab[BOS], eos_token_id=vocab[EOS], pad_token_id=vocab[EOS], hidden_size=32,
        intermediate_size=37, num_attention_heads=4, num_hidden_layers=5, vocab_size=len(tokenizer),
        max_position_embeddings=77))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipeline = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def save_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Build the tiny pipeline and save it as a diffusers model folder (~9 MB)."""
    folder = Path(folder)
    build_tiny_pipeline(seed).save_pretrained(folder)
    return folder

"""The GPU backend: a Stable-Diffusion-family pipeline from a local model folder.

- The model comes from a diffusers model folder the operator provides (model_index.json,
  unet/, vae/, text_encoder/, tokenizer/, scheduler/): never from a hub. Loading sets
  HF_HUB_OFFLINE=1 and passes local_files_only=True.
- One set of weights serves three pipelines (diffusers' AutoPipeline `from_pipe`):
  txt2img for a mint, inpainting (default) or img2img for a mutation.
- On CUDA the weights run in float16, on the CPU in float32.
- A mint is txt2img from (prompt, seed); the generator is a CPU torch.Generator seeded with
  the first 8 bytes (big-endian, top bit cleared) of derive_key(seed, "diffusion"), so the
  starting noise is the same on every device. A mutation seeds with
  derive_key(seed, entropy, "diffusion").
- Inpainting: the model sees the 1% mask dilated to whole latent cells (the VAE's
  vae_scale_factor x vae_scale_factor pixels), since single pixels vanish at latent
  resolution; the proposal it returns is the parent everywhere but the mask's own pixels.
  Inpainting re-encodes the whole image through the VAE, so pasting the parent back is
  what keeps "a mutation changes only its mask" true (renderer.mask.apply_mask checks it again).
- Sizes that are not multiples of 8 are rendered padded (edge pixels repeated) and cropped.
- The output is graded toward the minter's palette (renderer.backends.grade.tint), so the
  same prompt minted by two wallets still gives two colourings.
- Safety checker: kept if the model folder ships one (it blacks out flagged images, logged).
- Batches (`create_batch`, `propose_batch`, up to `max_batch` pictures, `chaos daemon --gpu-batch`):
  one pipeline call for several jobs of one size, with a prompt, a generator (seeded as above),
  a mask image and a paste-back per item, so each item gets the picture its own call would
  give (to float rounding: batched kernels may sum in another order).

Float16 GPU kernels do not give the same bits on every GPU: `deterministic` is False, and
`chaos verify` checks these renders by their mask and CIDs, not by re-rendering.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import logging
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..hashing import derive_key
from .base import BackendError, Capabilities, Colour, Creation, Proposal
from .grade import tint

log = logging.getLogger("chaos.diffusion")

#: A byte-level CLIP vocabulary holds at least the 256 byte symbols and its two special tokens;
#: a tokenizer loaded offline from a hub id comes back with 2 tokens and no error.
MIN_VOCABULARY = 258
_PAD_MULTIPLE = 8
_FOLDER_HELP = ("give --model-dir (CHAOS_MODEL_DIR) the folder of a diffusers Stable Diffusion model "
                "(model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/), e.g. one saved with "
                "StableDiffusionPipeline.from_single_file(CHECKPOINT).save_pretrained(DIR); "
                "the renderer never downloads models")


def check_model_folder(model_dir: str | Path | None) -> Path:
    if model_dir is None:
        raise BackendError(f"the diffusion backend needs a local model folder: {_FOLDER_HELP}")
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise BackendError(f"model folder {folder} does not exist: {_FOLDER_HELP}")
    if not (folder / "model_index.json").is_file():
        singles = sorted(p.name for p in folder.glob("*") if p.suffix in (".safetensors", ".ckpt"))
        hint = f" (it holds single-file checkpoint(s) {', '.join(singles)}: convert one first)" if singles else ""
        raise BackendError(f"{folder} has no model_index.json, so it is not a diffusers model folder{hint}: "
                           f"{_FOLDER_HELP}")
    return folder


def check_device(device: str) -> str:
    """The torch device to render on; a clear error when CUDA is asked for and absent."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            built = torch.version.cuda or "none: this is a CPU-only torch wheel"
            raise BackendError(f"--device {device} but torch {torch.__version__} sees no CUDA GPU (CUDA build: "
                               f"{built}): run on a machine with an NVIDIA GPU and driver and a CUDA build of "
                               "torch, or pass --device cpu (slow: real-size models take seconds per step)")
        return device
    raise BackendError(f"unknown device {device!r}: use cuda, cuda:N, cpu or auto")


def model_fingerprint(folder: Path) -> str:
    """12 hex digits of sha256 over the folder's config files and its weight files' names and sizes.

    Weights are not read (gigabytes at every start): the fingerprint tells folders apart,
    it does not prove the weights.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        digest.update(relative.encode() + b"\0")
        if path.suffix in (".json", ".txt"):
            digest.update(path.read_bytes())
        else:
            digest.update(str(path.stat().st_size).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def check_tokenizers(pipeline, where: str) -> None:
    """Refuse a tokenizer whose vocabulary cannot be the text encoder's."""
    for tokenizer_name, encoder_name in (("tokenizer", "text_encoder"), ("tokenizer_2", "text_encoder_2")):
        tokenizer = getattr(pipeline, tokenizer_name, None)
        if tokenizer is None:
            continue
        encoder = getattr(pipeline, encoder_name, None)
        expected = getattr(getattr(encoder, "config", None), "vocab_size", None)
        size = len(tokenizer)
        if size < MIN_VOCABULARY or (expected is not None and size > expected):
            raise BackendError(
                f"{where}/{tokenizer_name} has a vocabulary of {size} token(s) (the text encoder has {expected}): "
                "the tokenizer is broken or its files are missing. A CLIP tokenizer loaded offline from a hub id "
                "silently comes back with 2 tokens; copy the model's own tokenizer files (vocab.json and "
                f"merges.txt, or tokenizer.json) into {where}/{tokenizer_name}/")


def _load(folder: Path, device: str):
    os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces: local_files_only below is what guarantees it
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch
    from diffusers import AutoPipelineForText2Image

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    try:
        pipeline = AutoPipelineForText2Image.from_pretrained(folder, dtype=dtype, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackendError(f"cannot load the model folder {folder}: {type(exc).__name__}: {exc}. "
                           f"{_FOLDER_HELP}") from None
    check_tokenizers(pipeline, str(folder))
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)


def _seed_generator(key: bytes):
    import torch

    # A CPU generator: the starting noise is drawn on the CPU, so it is the same on any device.
    return torch.Generator("cpu").manual_seed(int.from_bytes(key[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF)


def _to_uint8(image) -> np.ndarray:
    image = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0)  # fp16 can overflow to NaN
    return (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)


class DiffusionBackend:
    name = "diffusion"
    #: The class's; every instance names its model folder and fingerprint.
    model_id = "diffusers"
    deterministic = False

    def __init__(self, model_dir: str | Path | None = None, *, device: str = "cuda", steps: int = 30,
                 guidance: float = 7.5, mutation: str = "inpaint", img2img_strength: float = 0.75,
                 palette_tint: int = 96, max_batch: int = 1):
        folder = check_model_folder(model_dir)  # before importing torch: a typo fails in milliseconds
        device = check_device(device)
        pipeline = _load(folder, device)
        self._setup(pipeline, device, f"diffusers:{folder.name}@{model_fingerprint(folder)}", steps=steps,
                    guidance=guidance, mutation=mutation, img2img_strength=img2img_strength,
                    palette_tint=palette_tint, max_batch=max_batch)

    @classmethod
    def from_pipeline(cls, pipeline, *, device: str, model_id: str, **settings) -> DiffusionBackend:
        """A backend around a pipeline already built in memory (the GPU benchmark's random-weight SD 1.5)."""
        backend = cls.__new__(cls)
        pipeline.set_progress_bar_config(disable=True)
        backend._setup(pipeline, device, model_id, **settings)
        return backend

    def _setup(self, pipeline, device: str, model_id: str, *, steps: int = 30, guidance: float = 7.5,
               mutation: str = "inpaint", img2img_strength: float = 0.75, palette_tint: int = 96,
               max_batch: int = 1) -> None:
        if mutation not in ("inpaint", "img2img"):
            raise BackendError(f"unknown mutation mode {mutation!r}: use inpaint or img2img")
        if steps < 1:
            raise BackendError(f"steps must be at least 1, not {steps}")
        if max_batch < 1:
            raise BackendError(f"a GPU batch holds at least 1 picture, not {max_batch} (--gpu-batch)")
        #: Jobs per pipeline call (`--gpu-batch`); the batch size is not recorded in the metadata:
        #: it changes no picture beyond float rounding.
        self.capabilities = Capabilities(max_batch=max_batch)
        self.device = device
        self.model_id = model_id
        self.steps = steps
        self.guidance = guidance
        self.mutation = mutation
        self.img2img_strength = img2img_strength
        self.palette_tint = palette_tint
        # Shared by every copy (degraded() copies): one set of weights, pipelines made on first use.
        self._pipelines = {"txt2img": pipeline}
        self._multiple = math.lcm(_PAD_MULTIPLE, int(getattr(pipeline, "vae_scale_factor", 8)))

    @property
    def settings(self) -> dict:
        pipeline = self._pipelines["txt2img"]
        settings = {"steps": self.steps, "guidance": self.guidance, "mutation": self.mutation,
                    "palette_tint": self.palette_tint, "device": self.device,
                    "dtype": str(pipeline.unet.dtype).removeprefix("torch."),
                    "pipeline": type(pipeline).__name__, "scheduler": type(pipeline.scheduler).__name__}
        if self.mutation == "img2img":
            settings["img2img_strength"] = self.img2img_strength
        return settings

    def degraded(self, steps_divisor: int) -> DiffusionBackend:
        """This backend with max(1, steps // steps_divisor) steps (phoenix)."""
        cheaper = copy.copy(self)
        cheaper.steps = max(1, self.steps // steps_divisor)
        return cheaper

    def release_memory(self) -> None:
        """Give cached GPU memory back before a phoenix retry."""
        import torch

        gc.collect()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def pipeline(self, kind: str):
        if kind not in self._pipelines:
            from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

            auto = AutoPipelineForInpainting if kind == "inpaint" else AutoPipelineForImage2Image
            made = auto.from_pipe(self._pipelines["txt2img"])
            made.set_progress_bar_config(disable=True)
            self._pipelines[kind] = made
        return self._pipelines[kind]

    def _call(self, kind: str, **arguments) -> list[np.ndarray]:
        """One pipeline call; every image of its batch as (H, W, 3) uint8."""
        output = self.pipeline(kind)(num_inference_steps=self.steps, guidance_scale=self.guidance,
                                     output_type="np", **arguments)
        flagged = getattr(output, "nsfw_content_detected", None)
        if flagged and any(flagged):
            log.warning("the model's safety checker blacked out %d %s render(s)", sum(map(bool, flagged)), kind)
        return [_to_uint8(image) for image in output.images]

    def _padded(self, size: int) -> int:
        return -(-size // self._multiple) * self._multiple

    def create(self, prompt: str, seed: bytes, palette: list[Colour], width: int, height: int) -> np.ndarray:
        return self.create_batch([Creation(prompt, seed, palette, width, height)])[0]

    def create_batch(self, items: list[Creation]) -> list[np.ndarray]:
        """txt2img for every item in one call: a prompt and a generator per item."""
        width, height = _one_size(items, lambda item: (item.width, item.height), self.capabilities.max_batch)
        images = self._call("txt2img", prompt=[item.prompt for item in items], width=self._padded(width),
                            height=self._padded(height),
                            generator=_generators([derive_key(item.seed, "diffusion") for item in items]))
        return [tint(np.ascontiguousarray(image[:height, :width]), item.palette, self.palette_tint)
                for image, item in zip(images, items)]

    def _latent_cells(self, mask: np.ndarray, width: int, padded: tuple[int, int]) -> Image.Image:
        """The mask dilated to whole latent cells, as the white-means-repaint image diffusers wants."""
        cell = int(getattr(self._pipelines["txt2img"], "vae_scale_factor", 8))
        padded_height, padded_width = padded
        pixels = np.zeros((padded_height, padded_width), dtype=bool)
        rows, cols = np.divmod(mask, width)
        pixels[rows, cols] = True
        cells = pixels.reshape(padded_height // cell, cell, padded_width // cell, cell).any(axis=(1, 3))
        dilated = np.repeat(np.repeat(cells, cell, axis=0), cell, axis=1)
        return Image.fromarray(np.where(dilated, 255, 0).astype(np.uint8), mode="L")

    def propose_mutation(self, parent: np.ndarray, prompt: str, seed: bytes, entropy: bytes,
                         palette: list[Colour], mask: np.ndarray) -> np.ndarray:
        return self.propose_batch([Proposal(parent, prompt, seed, entropy, palette, mask)])[0]

    def propose_batch(self, items: list[Proposal]) -> list[np.ndarray]:
        """Inpainting (or img2img) for every item in one call: per item a prompt, a generator, a
        mask image, and the paste-back of the mask's pixels onto its own parent."""
        height, width, _ = _one_size(items, lambda item: item.parent.shape, self.capabilities.max_batch)
        padded = (self._padded(height), self._padded(width))
        sources = [Image.fromarray(np.pad(item.parent, ((0, padded[0] - height), (0, padded[1] - width), (0, 0)),
                                          mode="edge")) for item in items]
        prompts = [item.prompt for item in items]
        generator = _generators([derive_key(item.seed, item.entropy, "diffusion") for item in items])
        if self.mutation == "inpaint":
            images = self._call("inpaint", prompt=prompts, image=sources,
                                mask_image=[self._latent_cells(item.mask, width, padded) for item in items],
                                height=padded[0], width=padded[1], strength=1.0, generator=generator)
        else:
            images = self._call("img2img", prompt=prompts, image=sources, strength=self.img2img_strength,
                                generator=generator)
        frames = []
        for image, item in zip(images, items):
            proposal = tint(np.ascontiguousarray(image[:height, :width]), item.palette, self.palette_tint)
            frame = item.parent.copy()
            frame.reshape(-1, 3)[item.mask] = proposal.reshape(-1, 3)[item.mask]
            frames.append(frame)
        return frames


def _generators(keys: list[bytes]):
    """One seeded generator per item (diffusers draws each item's starting noise from its own, so an
    item's noise does not depend on its batch); a lone generator, not a list of one, for one item."""
    generators = [_seed_generator(key) for key in keys]
    return generators[0] if len(generators) == 1 else generators


def _one_size(items: list, size_of, max_batch: int):
    """The one size all items share: a pipeline call renders one size."""
    if not items:
        raise BackendError("a batch needs at least one picture")
    if len(items) > max_batch:
        raise BackendError(f"a batch of {len(items)} pictures is over this backend's max_batch of {max_batch}")
    sizes = {tuple(size_of(item)) for item in items}
    if len(sizes) != 1:
        raise BackendError(f"one pipeline call renders one size, not {sorted(sizes)}: group the jobs by size")
    return sizes.pop()

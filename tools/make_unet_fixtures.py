#!/usr/bin/env python3
"""Make the diffusers UNet2DModel parity fixtures in Tests/Fixtures/unet/ (and, on request, the big
benchmark models that are not committed).

Commands (run from the repository root; no network, no GPU):

    python tools/make_unet_fixtures.py                  # (re)write Tests/Fixtures/unet/
    python tools/make_unet_fixtures.py --check          # regenerate into a temp dir, compare byte for byte
    python tools/make_unet_fixtures.py --cifar10 DIR    # write the big models (not committed) into DIR:
        DIR/ddpm-cifar10-32-random/   diffusers pipeline folder (model_index.json, unet/, scheduler/)
                                      with google/ddpm-cifar10-32's exact UNet config, random weights
                                      (35.7 M parameters, ~143 MB) and goldens for batch 2
        DIR/small-28-random/          the 1.1 M-parameter 1-channel 28x28 config of docs/ARCHITECTURE.md (Models in the tests)
                                      (bare model folder) and goldens for batch 2

Versions that produced the checked-in files (the script refuses other versions unless
--allow-other-versions is given, because goldens must be reproducible bit for bit):

    Python 3.11.7, torch 2.13.0+cpu, diffusers 0.42.1, safetensors 0.8.0, numpy 2.4.6

Determinism: torch runs single-threaded, every random draw comes from an explicitly seeded CPU
torch.Generator (model init uses torch.manual_seed before construction), JSON is written with a fixed
key order, and `save_pretrained(safe_serialization=True)` writes a deterministic file; rerunning gives
byte-identical files (`--check` verifies that).

What is written per fixture (schemas in Tests/Fixtures/unet/README.md):

    <name>/config.json                          save_pretrained (diffusers' own config dump)
    <name>/diffusion_pytorch_model.safetensors  save_pretrained(safe_serialization=True), float32
    <name>/goldens.json + goldens.bin           inputs, timesteps, outputs (and intermediates for one
                                                case), little-endian float32, byte offsets in the JSON
    tiny_default/keys.txt                       state_dict keys and shapes, for reference
    tiny_default_fp16/, tiny_default_bf16/      tiny_default's weights stored as F16 / BF16, with goldens
                                                of the weights widened back to float32
    tiny_default_legacy_keys/                   tiny_default's weights under the old AttentionBlock attention key
                                                names (query/key/value/proj_attn); no goldens of its own
    pipeline_one_channel_28/                    diffusers pipeline folder (model_index.json, unet/,
                                                scheduler/) of the one_channel_28 model plus
                                                pipeline.json + pipeline.bin: a 10-step DDIM run and a
                                                10-step DDPM run on the custom schedule 999, 888, ..., 0

Random initialisation alone leaves GroupNorm weights at 1 and biases at 0, which would hide bugs such
as a swapped scale/shift or a missing affine step; so after init every norm weight, norm bias and
every bias gets + 0.1 * randn (seeded). Models are in eval() mode (dropout, where configured, is the
identity at inference).
"""

from __future__ import annotations

import argparse
import filecmp
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import diffusers
import safetensors
from diffusers import DDIMScheduler, DDPMPipeline, DDPMScheduler, UNet2DModel
from diffusers.utils.torch_utils import randn_tensor

EXPECTED_VERSIONS = {
    "python": "3.11.7",
    "torch": "2.13.0+cpu",
    "diffusers": "0.42.1",
    "safetensors": "0.8.0",
    "numpy": "2.4.6",
}
COMMAND = "python tools/make_unet_fixtures.py"

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "Tests" / "Fixtures" / "unet"

FORMAT = "skipstep-unet-goldens/1"
PERTURB_STD = 0.1

# --------------------------------------------------------------------------------------------------
# Fixture configurations. "required" fixtures cover what issue 3 asks the Swift engine to support;
# "extra" fixtures cover options it may refuse (fourier/learned time embedding, class embedding,
# no mid block) so that a refusal or a later implementation can be tested too.
# --------------------------------------------------------------------------------------------------

FIXTURES: list[dict] = [
    {
        "name": "tiny_default",
        "tier": "required",
        "seed": 1001,
        "spatial": (16, 16),
        "config": dict(
            sample_size=16,
            in_channels=3,
            out_channels=3,
            block_out_channels=(8, 16, 16),
            layers_per_block=2,
            norm_num_groups=4,
            down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
            # everything else: diffusers defaults (positional, flip_sin_to_cos=True, freq_shift=0,
            # attention_head_dim=8, downsample_padding=1, norm_eps=1e-5, resnet_time_scale_shift
            # "default", mid block with attention, mid_block_scale_factor=1, center_input_sample=False)
        ),
        "covers": [
            "DownBlock2D, AttnDownBlock2D, AttnUpBlock2D, UpBlock2D (layers_per_block=2)",
            "UNetMidBlock2D with attention; attention group_norm with norm_num_groups groups",
            "positional time embedding, flip_sin_to_cos=True, freq_shift=0 (diffusers defaults)",
            "attention_head_dim=8 (default) -> 1 head at 8 channels, 2 heads at 16 channels",
            "Downsample2D conv, downsample_padding=1; Upsample2D nearest x2 + conv",
            "ResnetBlock2D conv_shortcut (1x1) where channels change, time_embedding_norm default",
            "norm_eps=1e-5, norm_num_groups=4",
        ],
    },
    {
        "name": "scale_shift",
        "tier": "required",
        "seed": 1002,
        "spatial": (8, 12),
        "config": dict(
            sample_size=(8, 12),
            in_channels=3,
            out_channels=3,
            block_out_channels=(8, 16),
            layers_per_block=2,
            norm_num_groups=4,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            resnet_time_scale_shift="scale_shift",
            flip_sin_to_cos=False,
            freq_shift=1,
            center_input_sample=True,
            downsample_padding=0,
            attention_head_dim=None,
            norm_eps=1e-6,
        ),
        "covers": [
            "resnet_time_scale_shift='scale_shift' (time_emb_proj has 2*C outputs; norm2 then x*(1+scale)+shift)",
            "mid-block attention WITHOUT group_norm (attn_norm_num_groups=None and scale_shift => none)",
            "flip_sin_to_cos=False, freq_shift=1 (google/ddpm-* settings)",
            "center_input_sample=True (x -> 2x - 1)",
            "downsample_padding=0 (F.pad right/bottom by 1, then conv stride 2 padding 0)",
            "attention_head_dim=None (one head of all channels)",
            "norm_eps=1e-6",
            "non-square input 8x12 and sample_size given as [8, 12] in config.json",
        ],
    },
    {
        "name": "no_mid_attention",
        "tier": "required",
        "seed": 1003,
        "spatial": (8, 8),
        "config": dict(
            sample_size=8,
            in_channels=3,
            out_channels=3,
            block_out_channels=(8, 16),
            layers_per_block=1,
            norm_num_groups=4,
            down_block_types=("AttnDownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "AttnUpBlock2D"),
            add_attention=False,
            norm_eps=1e-6,
            attention_head_dim=4,
            mid_block_scale_factor=2.0,
        ),
        "covers": [
            "UNetMidBlock2D without attention (add_attention=False): resnets only",
            "layers_per_block=1 (up blocks have 2 resnets)",
            "attention_head_dim=4 -> 2 heads at 8 channels, 4 heads at 16 channels",
            "AttnDownBlock2D as the first block (attention at full resolution) and as the final block (no downsample)",
            "AttnUpBlock2D as the final block (no upsample)",
            "mid_block_scale_factor=2 (ResnetBlock2D output_scale_factor in the mid block)",
            "norm_eps=1e-6",
        ],
    },
    {
        "name": "one_channel_28",
        "tier": "required",
        "seed": 1004,
        "spatial": (28, 28),
        "config": dict(
            sample_size=28,
            in_channels=1,
            out_channels=1,
            block_out_channels=(8, 16, 16),
            layers_per_block=1,
            norm_num_groups=4,
            down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        ),
        "covers": [
            "1 input / 1 output channel, 28x28 -> 14x14 -> 7x7 (odd size at the lowest level)",
            "attention only at 7x7 (49 tokens), the Fashion-MNIST-like layout of docs/ARCHITECTURE.md (Models in the tests)",
            "the model of the pipeline golden (pipeline_one_channel_28)",
        ],
    },
    {
        "name": "learned_variance",
        "tier": "required",
        "seed": 1005,
        "spatial": (8, 8),
        "config": dict(
            sample_size=8,
            in_channels=3,
            out_channels=6,
            block_out_channels=(8, 16),
            layers_per_block=1,
            norm_num_groups=4,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            mid_block_scale_factor=1.5,
            attn_norm_num_groups=2,
            dropout=0.1,
        ),
        "covers": [
            "out_channels = 2 * in_channels (learned variance: eps in channels 0..2, v in 3..5)",
            "mid_block_scale_factor=1.5 with attention (resnet output_scale_factor and attention rescale_output_factor)",
            "attn_norm_num_groups=2 (mid attention group norm with its own group count)",
            "dropout=0.1 in config.json (identity at inference)",
        ],
    },
    {
        "name": "resnet_updown",
        "tier": "required",
        "seed": 1006,
        "spatial": (16, 16),
        "config": dict(
            sample_size=16,
            in_channels=3,
            out_channels=3,
            block_out_channels=(8, 16, 16),
            layers_per_block=1,
            norm_num_groups=4,
            down_block_types=("AttnDownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D", "AttnUpBlock2D"),
            downsample_type="resnet",
            upsample_type="resnet",
        ),
        "covers": [
            "downsample_type='resnet' in AttnDownBlock2D: a ResnetBlock2D(down=True) whose Downsample2D(use_conv=False) is AvgPool2d(2) on both branches",
            "upsample_type='resnet' in AttnUpBlock2D: a ResnetBlock2D(up=True), nearest x2 (no conv) on both branches",
            "DownBlock2D / UpBlock2D ignore downsample_type / upsample_type (they keep the conv versions)",
            "attention at 16x16 (256 tokens)",
        ],
    },
    {
        "name": "no_mid_block",
        "tier": "extra",
        "seed": 1007,
        "spatial": (8, 8),
        "config": dict(
            sample_size=8,
            in_channels=3,
            out_channels=3,
            block_out_channels=(8, 16),
            layers_per_block=1,
            norm_num_groups=4,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            mid_block_type=None,
        ),
        "covers": ["mid_block_type=None (no mid block at all)"],
    },
    {
        "name": "fourier_time",
        "tier": "extra",
        "seed": 1008,
        "spatial": (8, 8),
        "timestep_kind": "float_sigma",
        "config": dict(
            sample_size=8,
            in_channels=3,
            out_channels=3,
            block_out_channels=(8, 16),
            layers_per_block=1,
            norm_num_groups=4,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            time_embedding_type="fourier",
            time_embedding_dim=24,
        ),
        "covers": [
            "time_embedding_type='fourier': GaussianFourierProjection(embedding_size=C0, scale=16, log=True): "
            "x = log(t); proj = x * W * 2pi; [sin, cos]; output divided by t at the end",
            "time_embedding_dim=24 (instead of 4 * block_out_channels[0])",
            "float timesteps (noise levels sigma > 0), always passed as a float32 tensor",
        ],
    },
    {
        "name": "learned_time_class",
        "tier": "extra",
        "seed": 1009,
        "spatial": (8, 8),
        "num_classes": 5,
        "config": dict(
            sample_size=8,
            in_channels=3,
            out_channels=3,
            block_out_channels=(8, 16),
            layers_per_block=1,
            norm_num_groups=4,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            time_embedding_type="learned",
            num_train_timesteps=1000,
            num_class_embeds=5,
        ),
        "covers": [
            "time_embedding_type='learned' (nn.Embedding(num_train_timesteps, C0) lookup)",
            "num_class_embeds=5 with class_embed_type=None (nn.Embedding(5, time_embed_dim) added to emb); class_labels in each case",
        ],
    },
]

# Timestep cases for integer-timestep fixtures: (name, batch, timesteps, form).
#   form "scalar":   model(x, int) -- diffusers broadcasts one timestep over the batch
#   form "per_item": model(x, torch.tensor([...], dtype=torch.int64)) -- one per batch item
INT_CASES = [
    ("b1_t0", 1, [0], "scalar"),
    ("b1_t37", 1, [37], "scalar"),
    ("b1_t999", 1, [999], "scalar"),
    ("b3_t0_37_999", 3, [0, 37, 999], "per_item"),
    ("b3_t500", 3, [500], "scalar"),
]
FLOAT_CASES = [
    ("b1_s0.5", 1, [0.5], "per_item"),
    ("b3_s0.01_1_50", 3, [0.01, 1.0, 50.0], "per_item"),
]
INTERMEDIATE_CASE = {"b3_t0_37_999", "b3_s0.01_1_50"}

CIFAR10_CONFIG = dict(
    # google/ddpm-cifar10-32 config.json on the Hugging Face Hub (a diffusers 0.0.4 dump; the keys it
    # does not list take the defaults, e.g. resnet_time_scale_shift "default", add_attention True),
    # as quoted verbatim in public code (a 0.24 re-dump lists the same values plus the defaults and
    # up_block_types UpBlock2D, UpBlock2D, AttnUpBlock2D, UpBlock2D). Check: 35 746 307 parameters,
    # the 35.7 M. Hub checkpoint keys may use the old AttentionBlock attention names (see
    # tiny_default_legacy_keys).
    sample_size=32,
    in_channels=3,
    out_channels=3,
    center_input_sample=False,
    time_embedding_type="positional",
    flip_sin_to_cos=False,
    freq_shift=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(128, 256, 256, 256),
    layers_per_block=2,
    mid_block_scale_factor=1,
    downsample_padding=0,
    act_fn="silu",
    attention_head_dim=None,
    norm_num_groups=32,
    norm_eps=1e-6,
)
CIFAR10_SCHEDULER = dict(  # google/ddpm-cifar10-32 scheduler_config.json
    num_train_timesteps=1000,
    beta_start=0.0001,
    beta_end=0.02,
    beta_schedule="linear",
    trained_betas=None,
    variance_type="fixed_small",
    clip_sample=True,
)
SMALL28_CONFIG = dict(  # docs/ARCHITECTURE.md, Models in the tests: 1.11 M parameters
    sample_size=28,
    in_channels=1,
    out_channels=1,
    block_out_channels=(32, 64, 64),
    layers_per_block=1,
    norm_num_groups=16,
    down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
)

PIPELINE_SEEDS = [100, 101]
DDPM_CUSTOM_TIMESTEPS = [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

def _check_versions(allow_other: bool) -> dict:
    actual = {
        "python": ".".join(str(v) for v in sys.version_info[:3]),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }
    if actual != EXPECTED_VERSIONS:
        message = f"versions differ from the pinned ones: expected {EXPECTED_VERSIONS}, found {actual}"
        if not allow_other:
            sys.exit(message + " (pass --allow-other-versions to go on anyway)")
        print("warning: " + message, file=sys.stderr)
    return actual


class Blob:
    """Accumulates little-endian float32 arrays; returns JSON entries with byte offsets."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def add(self, tensor: torch.Tensor) -> dict:
        array = tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4", copy=False)
        offset = self.buffer.tell()
        self.buffer.write(array.tobytes(order="C"))
        return {"offset": offset, "count": int(array.size), "shape": list(array.shape)}

    def bytes(self) -> bytes:
        return self.buffer.getvalue()


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")


def _normalise_modes(root: Path) -> None:
    """save_pretrained writes the weights 0600; make every file 0644 like the rest of the tree."""
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def perturb_(model: torch.nn.Module, generator: torch.Generator, std: float = PERTURB_STD) -> list[str]:
    """Adds std * randn to every normalisation weight/bias and to every bias (in named_parameters
    order). Returns the names touched."""
    touched = []
    norm_params = set()
    for module_name, module in model.named_modules():
        if isinstance(module, (torch.nn.GroupNorm, torch.nn.LayerNorm)):
            for p_name, _ in module.named_parameters(recurse=False):
                norm_params.add(f"{module_name}.{p_name}" if module_name else p_name)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in norm_params or name.endswith(".bias"):
                param.add_(std * torch.randn(param.shape, generator=generator, dtype=param.dtype))
                touched.append(name)
    return touched


def build_model(config: dict, seed: int) -> UNet2DModel:
    torch.manual_seed(seed)
    model = UNet2DModel(**config)
    perturb_(model, torch.Generator().manual_seed(seed + 50_000))
    model.eval()
    return model


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    return float(torch.linalg.vector_norm(a64 - b64) / torch.linalg.vector_norm(b64))


def _timestep_arg(timesteps: list, form: str, kind: str):
    if kind == "float_sigma":
        return torch.tensor(timesteps, dtype=torch.float32)
    if form == "scalar":
        return int(timesteps[0])
    return torch.tensor(timesteps, dtype=torch.int64)


INTERMEDIATE_MODULES = ["time_proj", "time_embedding", "class_embedding", "conv_in"]


def _forward_with_intermediates(model: UNet2DModel, x, t, class_labels):
    """Runs the model; records the outputs of the top-level stages in execution order."""
    records: list[tuple[str, torch.Tensor]] = []
    handles = []

    def hook_for(name):
        def hook(_module, _inputs, output):
            tensor = output[0] if isinstance(output, tuple) else output
            records.append((name, tensor.detach().clone()))
        return hook

    for name in INTERMEDIATE_MODULES:
        module = getattr(model, name, None)
        if isinstance(module, torch.nn.Module):
            handles.append(module.register_forward_hook(hook_for(name)))
    for i, block in enumerate(model.down_blocks):
        handles.append(block.register_forward_hook(hook_for(f"down_blocks.{i}")))
    if model.mid_block is not None:
        handles.append(model.mid_block.register_forward_hook(hook_for("mid_block")))
    for i, block in enumerate(model.up_blocks):
        handles.append(block.register_forward_hook(hook_for(f"up_blocks.{i}")))
    handles.append(model.conv_norm_out.register_forward_hook(hook_for("conv_norm_out")))
    handles.append(model.conv_out.register_forward_hook(hook_for("conv_out")))
    try:
        with torch.no_grad():
            out = model(x, t, class_labels=class_labels).sample
    finally:
        for handle in handles:
            handle.remove()
    return out, records


# --------------------------------------------------------------------------------------------------
# per-fixture goldens
# --------------------------------------------------------------------------------------------------

def make_model_goldens(model: UNet2DModel, spatial, seed: int, kind: str, cases, intermediate_cases,
                       num_classes: int | None, versions: dict) -> tuple[dict, bytes]:
    blob = Blob()
    in_channels = model.config.in_channels
    model64 = _double_copy(model)
    entries = []
    for index, (name, batch, timesteps, form) in enumerate(cases):
        gen = torch.Generator().manual_seed(seed * 100 + index)
        x = torch.randn((batch, in_channels, *spatial), generator=gen, dtype=torch.float32)
        class_labels = None
        if num_classes is not None:
            class_labels = torch.randint(0, num_classes, (batch,), generator=gen, dtype=torch.int64)
        t = _timestep_arg(timesteps, form, kind)
        if name in intermediate_cases:
            out, records = _forward_with_intermediates(model, x, t, class_labels)
        else:
            with torch.no_grad():
                out = model(x, t, class_labels=class_labels).sample
            records = []
        with torch.no_grad():
            t64 = t.to(torch.float64) if (torch.is_tensor(t) and t.is_floating_point()) else t
            out64 = model64(x.to(torch.float64), t64, class_labels=class_labels).sample
        entry = {
            "name": name,
            "batch": batch,
            "timestep_form": form,
            "timestep_dtype": "float32" if kind == "float_sigma" else "int64",
            "timesteps": timesteps,
        }
        if class_labels is not None:
            entry["class_labels"] = [int(v) for v in class_labels]
        entry["input"] = blob.add(x)
        entry["output"] = blob.add(out)
        entry["output_stats"] = {
            "mean": round(float(out.mean()), 6),
            "std": round(float(out.std()), 6),
            "max_abs": round(float(out.abs().max()), 6),
        }
        entry["torch_f32_vs_f64_rel_l2"] = float(f"{rel_l2(out, out64):.3e}")
        if records:
            entry["intermediates"] = [{"stage": stage, **blob.add(tensor)} for stage, tensor in records]
        entries.append(entry)
    index_json = {
        "format": FORMAT,
        "made_by": COMMAND,
        "versions": versions,
        "data_file": "goldens.bin",
        "dtype": "float32",
        "byte_order": "little",
        "layout": "C order (row-major); images NCHW",
        "call": "model(input, timestep, class_labels=class_labels).sample, model.eval(), torch.no_grad()",
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "cases": entries,
    }
    return index_json, blob.bytes()


def _double_copy(model: UNet2DModel) -> UNet2DModel:
    clone = UNet2DModel.from_config(model.config)
    clone.load_state_dict(model.state_dict())
    clone = clone.to(torch.float64)
    clone.eval()
    return clone


def write_keys(model: UNet2DModel, path: Path) -> None:
    lines = [f"# state_dict of {path.parent.name}: key, shape (all float32); made by {COMMAND}"]
    for key, tensor in model.state_dict().items():
        lines.append(f"{key} {list(tensor.shape)}")
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------------
# pipeline goldens (one_channel_28): 10-step DDIM (eta 0) and 10-step DDPM on a custom schedule
# --------------------------------------------------------------------------------------------------

def _run_scheduler(model: UNet2DModel, scheduler, timesteps, x_T, generators, blob: Blob, step_kwargs):
    """The loop of DDIMPipeline / DDPMPipeline.__call__ (diffusers 0.42.1) with the noise each step
    draws recorded: the generators' states are saved, the same randn_tensor call the scheduler makes
    is repeated, and the states are restored before the real step."""
    steps = []
    image = x_T
    for t in timesteps:
        with torch.no_grad():
            model_output = model(image, t).sample
        states = [g.get_state() for g in generators]
        noise = randn_tensor(model_output.shape, generator=generators, device=model_output.device,
                             dtype=model_output.dtype)
        for g, s in zip(generators, states):
            g.set_state(s)
        prev = scheduler.step(model_output, t, image, generator=generators, **step_kwargs).prev_sample
        after = [g.get_state() for g in generators]
        drew = any(not torch.equal(a, s) for a, s in zip(after, states))
        if drew:
            # the step drew exactly the noise recorded above
            for g, s in zip(generators, states):
                g.set_state(s)
            check = randn_tensor(model_output.shape, generator=generators, dtype=model_output.dtype)
            assert torch.equal(check, noise)
            for g, a in zip(generators, after):
                g.set_state(a)
        if hasattr(scheduler, "previous_timestep"):
            prev_t = int(scheduler.previous_timestep(t))
        else:  # DDIMScheduler.step: prev_timestep = timestep - T // num_inference_steps
            prev_t = int(t) - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
        step = {"t": int(t), "prev_t": prev_t}
        step["x"] = blob.add(image)
        step["model_output"] = blob.add(model_output)
        step["noise"] = blob.add(noise) if drew else None
        step["x_prev"] = blob.add(prev)
        steps.append(step)
        image = prev
    return image, steps


def make_pipeline_goldens(model: UNet2DModel, versions: dict) -> tuple[dict, bytes]:
    blob = Blob()
    shape = (len(PIPELINE_SEEDS), model.config.in_channels, model.config.sample_size, model.config.sample_size)
    runs = []

    # DDIM: DDIMPipeline(eta=0) with clip_sample=False, default linear betas, set_timesteps(10)
    ddim = DDIMScheduler(clip_sample=False)
    generators = [torch.Generator().manual_seed(s) for s in PIPELINE_SEEDS]
    x_T = randn_tensor(shape, generator=generators, dtype=torch.float32)
    ddim.set_timesteps(10)
    ddim_timesteps = [int(t) for t in ddim.timesteps]
    x_T_entry = blob.add(x_T)
    final, steps = _run_scheduler(model, ddim, ddim.timesteps, x_T, generators, blob,
                                  {"eta": 0.0, "use_clipped_model_output": False})
    # cross-check against the real pipeline (its output is (x/2 + 0.5).clamp(0, 1), NHWC)
    from diffusers import DDIMPipeline
    pipe = DDIMPipeline(unet=model, scheduler=DDIMScheduler(clip_sample=False))
    pipe.set_progress_bar_config(disable=True)
    images = pipe(batch_size=len(PIPELINE_SEEDS), generator=[torch.Generator().manual_seed(s) for s in PIPELINE_SEEDS],
                  eta=0.0, num_inference_steps=10, output_type="np").images
    expected = (final / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(images, expected), "manual DDIM loop differs from DDIMPipeline"
    runs.append({
        "name": "ddim_eta0_10",
        "scheduler": "DDIMScheduler",
        "scheduler_config": {k: _jsonable(v) for k, v in ddim.config.items() if not k.startswith("_")},
        "set_timesteps": {"num_inference_steps": 10},
        "step_kwargs": {"eta": 0.0, "use_clipped_model_output": False},
        "timesteps": ddim_timesteps,
        "note": "diffusers DDIM: prev_t = t - 1000 // 10; at t = 0 the previous alpha is final_alpha_cumprod = 1 (set_alpha_to_one)",
        "x_T": x_T_entry,
        "steps": steps,
        "final": blob.add(final),
        "pipeline_cross_check": "DDIMPipeline(eta=0, num_inference_steps=10, output_type='np') == (final/2+0.5).clamp(0,1) exactly",
    })

    # DDPM on custom timesteps (== skipped-step sampler / DDPM fixed_small on the respaced schedule)
    ddpm = DDPMScheduler(clip_sample=False)
    ddpm.set_timesteps(timesteps=DDPM_CUSTOM_TIMESTEPS)
    generators = [torch.Generator().manual_seed(s) for s in PIPELINE_SEEDS]
    x_T2 = randn_tensor(shape, generator=generators, dtype=torch.float32)
    assert torch.equal(x_T, x_T2)
    final2, steps2 = _run_scheduler(model, ddpm, ddpm.timesteps, x_T2, generators, blob, {})
    runs.append({
        "name": "ddpm_custom_10",
        "scheduler": "DDPMScheduler",
        "scheduler_config": {k: _jsonable(v) for k, v in ddpm.config.items() if not k.startswith("_")},
        "set_timesteps": {"timesteps": DDPM_CUSTOM_TIMESTEPS},
        "step_kwargs": {},
        "timesteps": [int(t) for t in ddpm.timesteps],
        "note": "DDPMScheduler.step with custom timesteps uses the next listed timestep as prev_t "
                "(-1 after the last); variance fixed_small of the respaced step; noise drawn only for t > 0, "
                "one randn_tensor per step from the same per-sample generators that drew x_T",
        "x_T": blob.add(x_T2),
        "steps": steps2,
        "final": blob.add(final2),
    })
    index = {
        "format": "skipstep-unet-pipeline-goldens/1",
        "made_by": COMMAND,
        "versions": versions,
        "data_file": "pipeline.bin",
        "dtype": "float32",
        "byte_order": "little",
        "layout": "C order (row-major); images NCHW",
        "model": "unet/ (same weights as ../one_channel_28)",
        "x_T": "randn_tensor((2, 1, 28, 28), generator=[torch.Generator().manual_seed(100 + i) for i in range(2)])",
        "generator_seeds": PIPELINE_SEEDS,
        "runs": runs,
    }
    return index, blob.bytes()


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


# --------------------------------------------------------------------------------------------------
# drivers
# --------------------------------------------------------------------------------------------------

def write_fixtures(out_dir: Path, versions: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = []
    for fixture in FIXTURES:
        name = fixture["name"]
        model = build_model(fixture["config"], fixture["seed"])
        target = out_dir / name
        model.save_pretrained(target, safe_serialization=True)
        kind = fixture.get("timestep_kind", "int")
        cases = FLOAT_CASES if kind == "float_sigma" else INT_CASES
        index, data = make_model_goldens(model, fixture["spatial"], fixture["seed"], kind, cases,
                                         INTERMEDIATE_CASE, fixture.get("num_classes"), versions)
        index["fixture"] = {"name": name, "tier": fixture["tier"], "seed": fixture["seed"],
                            "perturbation": f"+{PERTURB_STD}*randn on every norm weight/bias and every bias",
                            "covers": fixture["covers"]}
        _write_json(target / "goldens.json", index)
        (target / "goldens.bin").write_bytes(data)
        if name == "tiny_default":
            write_keys(model, target / "keys.txt")
            write_legacy_attention_copy(model, target, out_dir / "tiny_default_legacy_keys", index)
            for dtype, suffix in ((torch.float16, "fp16"), (torch.bfloat16, "bf16")):
                write_half_copy(fixture, model, dtype, out_dir / f"tiny_default_{suffix}", versions)
        if name == "one_channel_28":
            pipe_dir = out_dir / "pipeline_one_channel_28"
            pipeline = DDPMPipeline(unet=model, scheduler=DDPMScheduler(clip_sample=False))
            pipeline.save_pretrained(pipe_dir, safe_serialization=True)
            p_index, p_data = make_pipeline_goldens(model, versions)
            _write_json(pipe_dir / "pipeline.json", p_index)
            (pipe_dir / "pipeline.bin").write_bytes(p_data)
        worst = max(c["torch_f32_vs_f64_rel_l2"] for c in index["cases"])
        summary.append((name, index["num_parameters"], worst))
    _normalise_modes(out_dir)
    for name, params, worst in summary:
        print(f"{name:22s} params={params:8d}  torch f32 vs f64 worst rel L2 = {worst:.2e}")


def write_big(dir_: Path, versions: dict) -> None:
    dir_.mkdir(parents=True, exist_ok=True)
    # google/ddpm-cifar10-32 layout: a pipeline folder
    model = build_model(CIFAR10_CONFIG, 2001)
    pipe_dir = dir_ / "ddpm-cifar10-32-random"
    DDPMPipeline(unet=model, scheduler=DDPMScheduler(**CIFAR10_SCHEDULER)).save_pretrained(pipe_dir, safe_serialization=True)
    cases = [("b2_t10_900", 2, [10, 900], "per_item")]
    index, data = make_model_goldens(model, (32, 32), 2001, "int", cases, set(), None, versions)
    index["fixture"] = {"name": "ddpm-cifar10-32-random", "seed": 2001, "model_dir": "unet"}
    _write_json(pipe_dir / "goldens.json", index)
    (pipe_dir / "goldens.bin").write_bytes(data)
    print(f"cifar10: {index['num_parameters']} parameters -> {pipe_dir}")
    model = build_model(SMALL28_CONFIG, 2002)
    small_dir = dir_ / "small-28-random"
    model.save_pretrained(small_dir, safe_serialization=True)
    index, data = make_model_goldens(model, (28, 28), 2002, "int", cases, set(), None, versions)
    index["fixture"] = {"name": "small-28-random", "seed": 2002}
    _write_json(small_dir / "goldens.json", index)
    (small_dir / "goldens.bin").write_bytes(data)
    print(f"small28: {index['num_parameters']} parameters -> {small_dir}")
    _normalise_modes(dir_)


def write_half_copy(fixture: dict, model: UNet2DModel, dtype: torch.dtype, target: Path, versions: dict) -> None:
    """tiny_default's weights stored as float16 / bfloat16 (save_pretrained of model.to(dtype)); the
    goldens are those of the float32 model whose weights are the stored half values widened to float32,
    which is what a loader that converts F16/BF16 to Float32 on load computes."""
    half = UNet2DModel.from_config(model.config)
    half.load_state_dict(model.state_dict())
    half = half.to(dtype).eval()
    half.save_pretrained(target, safe_serialization=True)
    widened = UNet2DModel.from_config(model.config)
    widened.load_state_dict({k: v.to(torch.float32) for k, v in half.state_dict().items()})
    widened.eval()
    cases = [c for c in INT_CASES if c[0] in ("b1_t37", "b3_t0_37_999")]
    index, data = make_model_goldens(widened, fixture["spatial"], fixture["seed"], "int", cases, set(), None, versions)
    index["fixture"] = {"name": target.name, "tier": "required", "seed": fixture["seed"],
                        "covers": [f"safetensors dtype {str(dtype).replace('torch.', '')} (weights widened to float32 on load); "
                                   "same model as tiny_default up to the rounding of its weights"]}
    _write_json(target / "goldens.json", index)
    (target / "goldens.bin").write_bytes(data)


LEGACY_ATTENTION_NAMES = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


def write_legacy_attention_copy(model: UNet2DModel, source: Path, target: Path, index: dict) -> None:
    """The same weights as `source` with the attention keys of diffusers' old AttentionBlock (query, key,
    value, proj_attn instead of to_q, to_k, to_v, to_out.0), as in checkpoints of that era (the
    google/ddpm-* family was converted in 2022); diffusers renames them on load
    (ModelMixin._fix_state_dict_keys_on_load). Verified here: from_pretrained of the copy gives the
    same output bit for bit."""
    from safetensors.torch import save_file

    target.mkdir(parents=True, exist_ok=True)
    (target / "config.json").write_bytes((source / "config.json").read_bytes())
    renamed = {}
    for key, tensor in model.state_dict().items():
        new_key = key
        if ".attentions." in key:
            for new, old in LEGACY_ATTENTION_NAMES.items():
                marker = f".{new}."
                if marker in key:
                    new_key = key.replace(marker, f".{old}.")
        renamed[new_key] = tensor.contiguous()
    save_file(renamed, str(target / "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})
    reloaded = UNet2DModel.from_pretrained(target).eval()
    case = index["cases"][3]
    x = torch.from_numpy(np.frombuffer((source / "goldens.bin").read_bytes(), dtype="<f4",
                                       count=case["input"]["count"], offset=case["input"]["offset"]).copy())
    x = x.reshape(case["input"]["shape"])
    with torch.no_grad():
        a = model(x, torch.tensor(case["timesteps"])).sample
        b = reloaded(x, torch.tensor(case["timesteps"])).sample
    assert torch.equal(a, b), "legacy-key copy does not reload to the same model"


def _compare_trees(a: Path, b: Path) -> list[str]:
    problems = []
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != "README.md")
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() and p.name != "README.md")
    if files_a != files_b:
        problems.append(f"file lists differ: only on disk {sorted(set(files_a) - set(files_b))}, "
                        f"only regenerated {sorted(set(files_b) - set(files_a))}")
    for rel in sorted(set(files_a) & set(files_b)):
        if not filecmp.cmp(a / rel, b / rel, shallow=False):
            problems.append(f"{rel} differs")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare with the files on disk")
    ap.add_argument("--cifar10", metavar="DIR", type=Path, help="write the big benchmark models into DIR instead")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help=f"output directory (default {OUT_DIR})")
    ap.add_argument("--allow-other-versions", action="store_true")
    args = ap.parse_args()
    versions = _check_versions(args.allow_other_versions)
    diffusers.utils.logging.set_verbosity_error()  # .to(float64) warns about fp32 modules (there are none)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if args.cifar10 is not None:
        write_big(args.cifar10, versions)
        return 0
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            write_fixtures(Path(tmp), versions)
            problems = _compare_trees(args.out, Path(tmp))
        for p in problems:
            print("MISMATCH:", p)
        print("check:", "OK" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    write_fixtures(args.out, versions)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Goldens for the layer library of Sources/Tensor/Layers (LayerNorm, GELU erf/tanh, GEGLU,
multi-head self- and cross-attention with causal mask and upcast flag, timestep and lookup
embeddings, grouped Conv2d and Conv1d, Float16/BFloat16 decoding), computed by PyTorch.

Writes Tests/Fixtures/tensor/layers.json (a few KB). Every case holds its inputs in PyTorch's own
layout ([B, T, D] tokens, NCHW / NCL activations, [out, in, ...] weights; the Swift tests convert
with a naive index map) and the expected output in the same layout. Inputs are Float32 values
drawn from a seeded torch.Generator. As in tools/make_kernel_goldens.py, expected outputs are
PyTorch's ops evaluated in Float64 on those exact Float32 values and rounded to Float32 (the
correctly rounded answer, not one Float32 summation order), and the Float32 PyTorch result's
worst deviation from it is stored beside it (`torch_f32_max_rel_err`).

Reference definitions (torch.nn / torch.nn.functional 2.13 unless said):
- layer_norm: F.layer_norm over the last dimension, with and without weight/bias.
- gelu: F.gelu(approximate="none" | "tanh").
- geglu: diffusers 0.42.1 models/activations.py GEGLU.forward re-expressed in torch:
  `hidden, gate = F.linear(x, W, b).chunk(2, dim=-1); hidden * F.gelu(gate)`.
- attention: diffusers Attention + AttnProcessor2_0 re-expressed in torch: q/k/v = F.linear
  (optional bias), split into heads, F.scaled_dot_product_attention(q, k, v, is_causal=causal),
  merged, F.linear(to_out.0). `upcast` cases cast q and k to float32 before the scores, as
  diffusers' upcast_attention does (a no-op for float32 inputs, which is the point: the flag
  changes no number at float32).
- timestep: diffusers models/embeddings.py get_timestep_embedding re-expressed (its float32
  exponent and angle, then sin/cos, flip, zero pad for odd dims); the reference evaluates exp
  and sin/cos in Float64 on the Float32 exponent/angle and rounds once.
- embedding: F.embedding (exact).
- conv2d_groups / conv1d: F.conv2d(groups=g) / F.conv1d(stride, padding, groups).
- decode: torch.Tensor.to(torch.float16 | torch.bfloat16) bytes (little-endian) and their
  float32 values.

Install (pinned; the CPU wheel is also in this machine's local wheel directory):
    pip install "torch==2.13.0+cpu" --index-url https://download.pytorch.org/whl/cpu
    pip install numpy==2.4.6
Command (from the repository root):
    python3 tools/make_layer_goldens.py          # writes the fixture
    python3 tools/make_layer_goldens.py --check  # compares with the file on disk
Made with Python 3.11.7, torch 2.13.0+cpu (both stored in the JSON). Deterministic:
torch.Generator().manual_seed(20261203).
"""

import json
import math
import os
import platform
import sys

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "tensor", "layers.json")
GEN = torch.Generator().manual_seed(20261203)


def randn(*shape, scale=1.0, offset=0.0):
    return (torch.randn(*shape, generator=GEN, dtype=torch.float32) * scale + offset).to(torch.float32)


def flat(t):
    """Float32 values, each written with 9 significant digits (enough to round-trip a Float32)."""
    return [float(f"{v:.9g}") for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def reference(fn, *tensors):
    """fn evaluated in Float64 (rounded to Float32) and in Float32, with the latter's deviation."""
    exact = fn(*[None if t is None else t.double() for t in tensors]).float()
    single = fn(*tensors)
    denom = exact.abs().max().item() or 1.0
    return exact, (single - exact).abs().max().item() / denom


def layer_norm_cases():
    cases = []
    for name, (b, t, d), affine, eps in [
        ("tokens_affine", (2, 5, 16), True, 1e-5),
        ("tokens_plain", (1, 7, 12), False, 1e-5),
        ("wide_eps6", (2, 3, 40), True, 1e-6),
    ]:
        x = randn(b, t, d, scale=2.0, offset=0.5)
        w = randn(d, scale=0.5, offset=1.0) if affine else None
        bias = randn(d, scale=0.3) if affine else None
        y, err = reference(lambda x, w, bias: F.layer_norm(x, (d,), w, bias, eps), x, w, bias)
        cases.append({"name": name, "batch": b, "tokens": t, "features": d, "eps": eps,
                      "weight": flat(w) if affine else None, "bias": flat(bias) if affine else None,
                      "input": flat(x), "expected": flat(y), "torch_f32_max_rel_err": err})
    return cases


def gelu_cases():
    x = torch.cat([randn(40, scale=3.0), torch.tensor([0.0, -0.0, 1e-4, -8.0, 8.0, 12.0, -12.0, 0.5])])
    cases = []
    for approximate in ["none", "tanh"]:
        y, err = reference(lambda x: F.gelu(x, approximate=approximate), x)
        cases.append({"name": approximate, "approximate": approximate, "input": flat(x), "expected": flat(y),
                      "torch_f32_max_rel_err": err})
    return cases


def geglu_cases():
    cases = []
    for name, (b, t, din, dout) in [("small", (2, 3, 8, 6)), ("single", (1, 4, 5, 3))]:
        x = randn(b, t, din)
        w = randn(2 * dout, din, scale=1 / math.sqrt(din))
        bias = randn(2 * dout, scale=0.1)

        def geglu(x, w, bias):
            hidden, gate = F.linear(x, w, bias).chunk(2, dim=-1)
            return hidden * F.gelu(gate)

        y, err = reference(geglu, x, w, bias)
        cases.append({"name": name, "batch": b, "tokens": t, "in_features": din, "out_features": dout,
                      "weight": flat(w), "bias": flat(bias), "input": flat(x), "expected": flat(y),
                      "torch_f32_max_rel_err": err})
    return cases


def attention_cases():
    specs = [
        # name, batch, Tq, Tk (None: self), query dim, context dim, heads, head dim, qkv bias, causal, upcast
        ("self_two_heads", 2, 6, None, 8, None, 2, 4, True, False, False),
        ("cross_lengths_differ", 2, 5, 7, 8, 12, 2, 4, False, False, False),
        ("causal_self", 2, 6, None, 8, None, 2, 4, False, True, False),
        ("causal_cross_top_left", 1, 4, 6, 6, 10, 3, 2, True, True, False),
        ("upcast_self", 1, 9, None, 6, None, 1, 6, True, False, True),
        ("long_self_for_chunking", 1, 33, None, 4, None, 2, 2, True, False, False),
    ]
    cases = []
    for name, b, tq, tk, dq, dc, heads, hd, qkv_bias, causal, upcast in specs:
        cross = tk is not None
        tk_ = tk if cross else tq
        dc_ = dc if cross else dq
        inner = heads * hd
        x = randn(b, tq, dq)
        ctx = randn(b, tk_, dc_) if cross else None
        wq, wk, wv = randn(inner, dq, scale=0.5), randn(inner, dc_, scale=0.5), randn(inner, dc_, scale=0.5)
        bq, bk, bv = (randn(inner, scale=0.1) for _ in range(3)) if qkv_bias else (None, None, None)
        wo, bo = randn(dq, inner, scale=0.5), randn(dq, scale=0.1)

        def attend(x, ctx, wq, wk, wv, bq, bk, bv, wo, bo):
            source = ctx if ctx is not None else x
            q, k, v = F.linear(x, wq, bq), F.linear(source, wk, bk), F.linear(source, wv, bv)
            if upcast and q.dtype != torch.float64:
                q, k = q.float(), k.float()
            split = lambda t: t.view(b, -1, heads, hd).transpose(1, 2)
            o = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=causal)
            return F.linear(o.transpose(1, 2).reshape(b, tq, inner), wo, bo)

        y, err = reference(attend, x, ctx, wq, wk, wv, bq, bk, bv, wo, bo)
        cases.append({"name": name, "batch": b, "query_tokens": tq, "key_tokens": tk_, "query_dim": dq,
                      "context_dim": dc_ if cross else None, "heads": heads, "head_dim": hd, "causal": causal,
                      "upcast": upcast, "input": flat(x), "context": flat(ctx) if cross else None,
                      "to_q": flat(wq), "to_k": flat(wk), "to_v": flat(wv),
                      "to_q_bias": flat(bq) if qkv_bias else None, "to_k_bias": flat(bk) if qkv_bias else None,
                      "to_v_bias": flat(bv) if qkv_bias else None, "to_out": flat(wo), "to_out_bias": flat(bo),
                      "expected": flat(y), "torch_f32_max_rel_err": err})
    return cases


def timestep_cases():
    timesteps = torch.tensor([0.0, 1.0, 17.0, 250.5, 999.0])
    cases = []
    for name, dim, flip, shift, scale in [
        ("diffusers_default", 32, True, 0.0, 1.0),
        ("ddpm_google", 16, False, 1.0, 1.0),
        ("odd_dim_scaled", 9, True, 1.0, 2.0),
    ]:
        half = dim // 2
        # diffusers: exponent = -log(max_period) * arange(half, float32) / (half - shift), float32.
        exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32)
        exponent = exponent / (half - shift)
        freqs32 = torch.exp(exponent)
        angle32 = scale * (timesteps[:, None].float() * freqs32[None, :])

        def embed(angle):
            emb = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
            if flip:
                emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
            if dim % 2 == 1:
                emb = F.pad(emb, (0, 1, 0, 0))
            return emb

        # Reference: exp, then sin/cos, each correctly rounded on the Float32 operands.
        freqs = torch.exp(exponent.double()).float()
        angle = scale * (timesteps[:, None].float() * freqs[None, :])
        y = embed(angle.double()).float()
        err = (embed(angle32) - y).abs().max().item()
        cases.append({"name": name, "dim": dim, "flip_sin_to_cos": flip, "downscale_freq_shift": shift,
                      "scale": scale, "timesteps": flat(timesteps), "expected": flat(y), "torch_f32_max_abs_err": err})
    return cases


def embedding_cases():
    table = randn(10, 6)
    ids = torch.tensor([[1, 3, 3, 0], [9, 2, 5, 7]])
    return [{"name": "table_10x6", "count": 10, "dim": 6, "table": flat(table), "batch": 2, "ids": ids.reshape(-1).tolist(),
             "expected": flat(F.embedding(ids, table))}]


def conv_cases():
    cases = []
    for name, (b, ic, oc, h, w, k, stride, pad, groups) in [
        ("groups2_3x3", (2, 4, 6, 5, 6, 3, 1, 1, 2)),
        ("depthwise_3x3_stride2", (1, 6, 6, 7, 7, 3, 2, 1, 6)),
        ("groups4_1x1", (2, 8, 4, 3, 3, 1, 1, 0, 4)),
    ]:
        x = randn(b, ic, h, w)
        weight = randn(oc, ic // groups, k, k, scale=0.5)
        bias = randn(oc, scale=0.1)
        y, err = reference(lambda x, wt, bs: F.conv2d(x, wt, bs, stride=stride, padding=pad, groups=groups), x, weight, bias)
        cases.append({"name": name, "dims": 2, "batch": b, "in_channels": ic, "out_channels": oc, "height": h,
                      "width": w, "kernel": k, "stride": stride, "padding": pad, "groups": groups,
                      "input": flat(x), "weight": flat(weight), "bias": flat(bias), "expected": flat(y),
                      "torch_f32_max_rel_err": err})
    for name, (b, ic, oc, length, k, stride, pad, groups) in [
        ("conv1d_k1_qkv", (2, 6, 18, 5, 1, 1, 0, 1)),
        ("conv1d_k3_pad1_groups2", (1, 4, 6, 9, 3, 1, 1, 2)),
    ]:
        x = randn(b, ic, length)
        weight = randn(oc, ic // groups, k, scale=0.5)
        bias = randn(oc, scale=0.1)
        y, err = reference(lambda x, wt, bs: F.conv1d(x, wt, bs, stride=stride, padding=pad, groups=groups), x, weight, bias)
        cases.append({"name": name, "dims": 1, "batch": b, "in_channels": ic, "out_channels": oc, "height": 1,
                      "width": length, "kernel": k, "stride": stride, "padding": pad, "groups": groups,
                      "input": flat(x), "weight": flat(weight), "bias": flat(bias), "expected": flat(y),
                      "torch_f32_max_rel_err": err})
    return cases


def decode_cases():
    x = torch.cat([randn(12, scale=4.0), torch.tensor([0.0, -0.0, 65504.0, 1e-7, -3.140625])])
    cases = []
    for name, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16)]:
        stored = x.to(dtype)
        raw = stored.view(torch.int16).numpy().astype("<i2").tobytes()
        cases.append({"name": name, "dtype": name, "hex": raw.hex(), "expected": flat(stored.float())})
    return cases


def build():
    return {
        "generator": "tools/make_layer_goldens.py",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "layer_norm": layer_norm_cases(),
        "gelu": gelu_cases(),
        "geglu": geglu_cases(),
        "attention": attention_cases(),
        "timestep": timestep_cases(),
        "embedding": embedding_cases(),
        "conv": conv_cases(),
        "decode": decode_cases(),
    }


def main():
    doc = build()
    text = json.dumps(doc, indent=None, separators=(",", ":")) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            same = f.read() == text
        print("layers.json " + ("matches" if same else "DIFFERS"))
        sys.exit(0 if same else 1)
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {OUT} ({len(text)} bytes)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Goldens for the CNHW kernels of Sources/Tensor (Kernels.conv2d, linear, groupNorm, attention,
upsampleNearest2x, avgPool2x), computed by PyTorch.

Writes Tests/Fixtures/tensor/{conv2d,group_norm,linear,attention,resample}.json. Every case holds
its inputs in PyTorch's own layout (NCHW activations, [OC, IC, KH, KW] weights, [B, T, C] tokens;
the Swift tests convert them to CNHW with a naive index map) and the expected output in the same
layout. Inputs are Float32 values drawn from a seeded torch.Generator; the expected outputs are
PyTorch's ops evaluated in Float64 on those exact values and rounded to Float32, so they are the
correctly rounded answers, not one Float32 summation order. The Float32 PyTorch result's worst
deviation from that reference is stored beside it (`torch_f32_max_rel_err`, relative to the
output's largest magnitude) to show what Float32 itself costs.

Ops (torch.nn.functional): conv2d (3×3 stride 1 pad 1, 3×3 stride 2 pad 1, 3×3 stride 2 pad 0,
diffusers Downsample2D(padding=0) = F.pad(x, (0, 1, 0, 1)) then 3×3 stride 2, 1×1, 3×3 conv_in),
group_norm (several group counts, eps 1e-5 and 1e-6, with and without a following F.silu),
linear (as used on channel-major tokens), scaled_dot_product_attention with heads (explicit
`scale`), interpolate(scale_factor=2, mode="nearest") and avg_pool2d(2, 2).

Command (from the repository root):
    python3 tools/make_kernel_goldens.py
Made with Python 3.11.7, torch 2.13.0+cpu (both stored in each JSON). Deterministic:
torch.Generator().manual_seed(20251123).
"""

import json
import math
import os
import platform

import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "tensor")
GEN = torch.Generator().manual_seed(20251123)


def randn(*shape, scale=1.0, offset=0.0):
    return (torch.randn(*shape, generator=GEN, dtype=torch.float32) * scale + offset).to(torch.float32)


def flat(t):
    return [float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def reference(fn, *tensors):
    """fn evaluated in Float64 (rounded to Float32) and in Float32, with the latter's deviation."""
    exact = fn(*[t.double() for t in tensors]).float()
    single = fn(*tensors)
    denom = exact.abs().max().item() or 1.0
    return exact, (single - exact).abs().max().item() / denom


def write(name, cases):
    os.makedirs(OUT_DIR, exist_ok=True)
    doc = {
        "generator": "tools/make_kernel_goldens.py",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cases": cases,
    }
    with open(os.path.join(OUT_DIR, name), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


def conv_cases():
    specs = [
        # name, B, IC, OC, H, W, kernel, stride, padding (top, left, bottom, right), bias
        ("3x3_s1_p1", 2, 5, 4, 6, 7, 3, 1, (1, 1, 1, 1), True),
        ("3x3_s1_p1_wide", 1, 16, 8, 8, 8, 3, 1, (1, 1, 1, 1), True),
        ("3x3_s2_p1", 2, 3, 4, 7, 8, 3, 2, (1, 1, 1, 1), True),
        ("3x3_s2_p0", 2, 3, 2, 8, 8, 3, 2, (0, 0, 0, 0), False),
        ("3x3_s2_downsample_pad_0101", 2, 3, 4, 8, 8, 3, 2, (0, 0, 1, 1), True),
        ("1x1", 3, 6, 5, 4, 5, 1, 1, (0, 0, 0, 0), True),
        ("1x1_nobias", 2, 4, 3, 3, 3, 1, 1, (0, 0, 0, 0), False),
        ("3x3_conv_in", 2, 3, 8, 5, 5, 3, 1, (1, 1, 1, 1), True),
        ("3x3_s1_p1_odd", 2, 4, 3, 5, 7, 3, 1, (1, 1, 1, 1), True),
        ("3x3_s1_p0", 1, 3, 4, 6, 5, 3, 1, (0, 0, 0, 0), False),
        ("3x3_s1_p1_tiny", 3, 2, 3, 1, 2, 3, 1, (1, 1, 1, 1), True),
        ("3x3_s1_p1_wide_rows", 2, 3, 4, 5, 37, 3, 1, (1, 1, 1, 1), True),
        ("3x3_s1_p1_16", 1, 2, 2, 4, 16, 3, 1, (1, 1, 1, 1), False),
    ]
    cases = []
    for name, b, ic, oc, h, w, k, s, pad, has_bias in specs:
        x = randn(b, ic, h, w)
        weight = randn(oc, ic, k, k, scale=1 / math.sqrt(ic * k * k))
        bias = randn(oc) if has_bias else None
        top, left, bottom, right = pad

        def fn(x, weight, *rest):
            xp = F.pad(x, (left, right, top, bottom))
            return F.conv2d(xp, weight, rest[0] if rest else None, stride=s)

        args = (x, weight) + ((bias,) if has_bias else ())
        y, err = reference(fn, *args)
        cases.append({
            "name": name, "batch": b, "in_channels": ic, "out_channels": oc, "height": h, "width": w,
            "kernel": k, "stride": s, "padding": {"top": top, "left": left, "bottom": bottom, "right": right},
            "input": flat(x), "weight": flat(weight), "bias": flat(bias) if has_bias else None,
            "out_height": y.shape[2], "out_width": y.shape[3], "expected": flat(y), "torch_f32_max_rel_err": err,
        })
    return cases


def group_norm_cases():
    specs = [
        # name, B, C, H, W, groups, eps, silu, input offset
        ("c8_g2_eps1e-5", 2, 8, 4, 4, 2, 1e-5, False, 0.0),
        ("c8_g4_eps1e-6_silu", 2, 8, 3, 5, 4, 1e-6, True, 0.0),
        ("c12_g3_silu_offset", 1, 12, 5, 5, 3, 1e-5, True, 3.0),
        ("c16_g16_eps1e-6", 2, 16, 2, 2, 16, 1e-6, False, -1.5),
        ("c6_g1_silu", 3, 6, 4, 4, 1, 1e-6, True, 0.5),
        ("c32_g8_silu", 2, 32, 4, 8, 8, 1e-6, True, 0.0),
    ]
    cases = []
    for name, b, c, h, w, g, eps, silu, offset in specs:
        x = randn(b, c, h, w, scale=2.0, offset=offset)
        gamma = randn(c, scale=0.5, offset=1.0)
        beta = randn(c, scale=0.5)

        def fn(x, gamma, beta):
            y = F.group_norm(x, g, gamma, beta, eps)
            return F.silu(y) if silu else y

        y, err = reference(fn, x, gamma, beta)
        cases.append({
            "name": name, "batch": b, "channels": c, "height": h, "width": w, "groups": g, "eps": eps,
            "silu": silu, "input": flat(x), "gamma": flat(gamma), "beta": flat(beta), "expected": flat(y),
            "torch_f32_max_rel_err": err,
        })
    return cases


def linear_cases():
    specs = [("in7_out5_bias", 2, 6, 7, 5, True), ("in16_out9_nobias", 3, 4, 16, 9, False)]
    cases = []
    for name, b, t, fin, fout, has_bias in specs:
        x = randn(b, t, fin)  # tokens × features, PyTorch's layout
        weight = randn(fout, fin, scale=1 / math.sqrt(fin))
        bias = randn(fout) if has_bias else None
        args = (x, weight) + ((bias,) if has_bias else ())
        y, err = reference(lambda x, w, *r: F.linear(x, w, r[0] if r else None), *args)
        cases.append({
            "name": name, "batch": b, "tokens": t, "in_features": fin, "out_features": fout,
            "input": flat(x), "weight": flat(weight), "bias": flat(bias) if has_bias else None,
            "expected": flat(y), "torch_f32_max_rel_err": err,
        })
    return cases


def attention_cases():
    specs = [
        # name, B, T, C, heads, scale (None: 1/sqrt(head_dim))
        ("b2_t6_c8_h2", 2, 6, 8, 2, None),
        ("b1_t20_c6_h1", 1, 20, 6, 1, None),
        ("b3_t16_c16_h4_scale0.3", 3, 16, 16, 4, 0.3),
        ("b2_t17_c12_h3_large_logits", 2, 17, 12, 3, 2.0),
    ]
    cases = []
    for name, b, t, c, heads, scale in specs:
        d = c // heads
        scale = scale if scale is not None else 1 / math.sqrt(d)
        q, k, v = randn(b, t, c), randn(b, t, c), randn(b, t, c)

        def fn(q, k, v):
            split = lambda z: z.reshape(b, t, heads, d).transpose(1, 2)  # [B, h, T, d]
            o = F.scaled_dot_product_attention(split(q), split(k), split(v), scale=scale)
            return o.transpose(1, 2).reshape(b, t, c)

        y, err = reference(fn, q, k, v)
        cases.append({
            "name": name, "batch": b, "tokens": t, "channels": c, "heads": heads, "scale": scale,
            "q": flat(q), "k": flat(k), "v": flat(v), "expected": flat(y), "torch_f32_max_rel_err": err,
        })
    return cases


def resample_cases():
    cases = []
    for name, b, c, h, w in [("upsample_b2_c3_3x4", 2, 3, 3, 4), ("upsample_b1_c2_1x1", 1, 2, 1, 1)]:
        x = randn(b, c, h, w)
        y = F.interpolate(x, scale_factor=2.0, mode="nearest")
        cases.append({"name": name, "op": "upsample_nearest_2x", "batch": b, "channels": c, "height": h, "width": w,
                      "input": flat(x), "expected": flat(y)})
    for name, b, c, h, w in [("avgpool_b2_c3_4x6", 2, 3, 4, 6), ("avgpool_b1_c2_5x5_odd", 1, 2, 5, 5)]:
        x = randn(b, c, h, w)
        y, _ = reference(lambda x: F.avg_pool2d(x, kernel_size=2, stride=2), x)
        cases.append({"name": name, "op": "avg_pool_2x", "batch": b, "channels": c, "height": h, "width": w,
                      "input": flat(x), "expected": flat(y)})
    return cases


def main():
    torch.set_num_threads(1)
    write("conv2d.json", conv_cases())
    write("group_norm.json", group_norm_cases())
    write("linear.json", linear_cases())
    write("attention.json", attention_cases())
    write("resample.json", resample_cases())


if __name__ == "__main__":
    main()

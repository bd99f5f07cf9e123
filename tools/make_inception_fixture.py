#!/usr/bin/env python3
"""Parity fixture for the Swift FID Inception network (Sources/Models/FIDInception.swift) without
committing its 95 MB of weights, plus goldens for the pooling / resize kernels it uses.

pytorch-fid's InceptionV3 (output_blocks=[3], resize_input=True, normalize_input=True,
use_fid_inception=True) is built with RANDOM weights that the Swift test regenerates itself from
seeds with skipstep's bit-exact torch.randn port (Sources/Diffusion/TorchGenerator.swift).
Rule, for the i-th tensor of the state dict in state_dict() order, `num_batches_tracked` left out:

    r = torch.randn(numel, generator=torch.Generator().manual_seed(SEED + i))    # float32
    value = float32(offset + scale * (|r| if abs else r))   # evaluated in float64, rounded once

with (offset, scale, abs) by key (stored per tensor in spec.json, so the rule travels with it):
    *.conv.weight        0, sqrt(2 / fan_in) / c          He, then calibrated (LSUV): c = the RMS of
                                                          the conv's output on the grey28 input, layer
                                                          by layer, so every conv output has RMS 1
    *.bn.weight          1, 0.1
    *.bn.bias            0, 0.1
    *.bn.running_mean    0, 0.1
    *.bn.running_var     0.5, 0.5, abs                   in [0.5, ~3]
    fc.weight            0, sqrt(1 / 2048)
    fc.bias              0, 0.1
The printed per-stage activation RMS (stored in golden.json) shows the activations stay O(1)
from the input to the pool3 features and logits, so the comparison is meaningful.

Written (about 0.7 MB in all):
    Tests/Fixtures/inception/spec.json    key names, shapes, seeds and the (offset, scale, abs) rule
    Tests/Fixtures/inception/golden.json  inputs (in skipstep's [-1, 1] model space) and
                                          pytorch-fid's pool3 features and fc logits, in cases:
        grey28       2 images 1x28x28 (repeated to 3 channels): noise, smooth pattern; resize_input=True
        rgb32        1 image 3x32x32 (pattern + noise), resize_input=True
        rgb139_noresize  1 image 3x139x139 (pattern + noise), resize_input=False (no interpolation)
      images are stored as 8-bit pixel values k (the image is k/127.5 - 1); pytorch-fid gets (x + 1) / 2 (float32), as the Swift
      side computes it; logits = fc(pool3), what torchvision's Inception3.forward returns in eval
      mode (checked here against the full Inception3 forward on the same preprocessed input).
      `f64_vs_f32_rel_l2` is the same network in float64 against float32: float32's own noise.
    Tests/Fixtures/tensor/pool_resize.json  F.max_pool2d, F.avg_pool2d (count_include_pad both
                                          ways), F.interpolate bilinear (align_corners=False),
                                          F.adaptive_avg_pool2d(1) on small seeded inputs, float32

Command (from the repository root; CPU only, no network: the .pth download that
pytorch_fid.inception.fid_inception_v3 would do is replaced by the random state dict):
    python3 tools/make_inception_fixture.py
    python3 tools/make_inception_fixture.py --check          # regenerate in memory, compare with the files
    python3 tools/make_inception_fixture.py --save-pth X.pth # also save the random state dict as a .pth
        (to exercise tools/convert_inception.py and `skipstep eval --network inception` end to end)
Made with Python 3.11.7, torch 2.13.0+cpu, torchvision 0.28.0+cu130 (PyPI wheel; its C extension
does not load here, so torchvision._meta_registrations is stubbed before the import),
pytorch-fid 0.3.0, numpy 2.4.6, single-threaded (torch.set_num_threads(1)).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import types

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
import pytorch_fid  # noqa: E402
import pytorch_fid.inception as fid_inception  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT_DIR = os.path.join(ROOT, "Tests", "Fixtures", "inception")
TENSOR_DIR = os.path.join(ROOT, "Tests", "Fixtures", "tensor")
SEED = 20260530
INPUT_SEED = 7


def versions():
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pytorch_fid": pytorch_fid.__version__,
        "numpy": np.__version__,
    }


def state_dict_shapes():
    """(name, shape) of fid_inception_v3's state dict in order, num_batches_tracked left out."""
    captured = {}

    class Captured(Exception):
        pass

    def grab(url, progress=True):
        raise Captured()

    original = fid_inception.load_state_dict_from_url
    fid_inception.load_state_dict_from_url = grab
    try:
        # fid_inception_v3 builds the model, then asks for the weights: stop there and read the keys.
        model = fid_inception._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        model.Mixed_5b = fid_inception.FIDInceptionA(192, pool_features=32)
        model.Mixed_5c = fid_inception.FIDInceptionA(256, pool_features=64)
        model.Mixed_5d = fid_inception.FIDInceptionA(288, pool_features=64)
        model.Mixed_6b = fid_inception.FIDInceptionC(768, channels_7x7=128)
        model.Mixed_6c = fid_inception.FIDInceptionC(768, channels_7x7=160)
        model.Mixed_6d = fid_inception.FIDInceptionC(768, channels_7x7=160)
        model.Mixed_6e = fid_inception.FIDInceptionC(768, channels_7x7=192)
        model.Mixed_7b = fid_inception.FIDInceptionE_1(1280)
        model.Mixed_7c = fid_inception.FIDInceptionE_2(2048)
        captured["shapes"] = [(k, list(v.shape)) for k, v in model.state_dict().items()
                              if not k.endswith("num_batches_tracked")]
    finally:
        fid_inception.load_state_dict_from_url = original
    return captured["shapes"]


def rule(name, shape):
    """(offset, scale, abs) of the random-weight rule for one tensor."""
    if name.endswith(".conv.weight"):
        fan_in = shape[1] * shape[2] * shape[3]
        return 0.0, math.sqrt(2.0 / fan_in), False
    if name.endswith(".bn.weight"):
        return 1.0, 0.1, False
    if name.endswith(".bn.bias") or name.endswith(".bn.running_mean"):
        return 0.0, 0.1, False
    if name.endswith(".bn.running_var"):
        return 0.5, 0.5, True
    if name == "fc.weight":
        return 0.0, math.sqrt(1.0 / shape[1]), False
    if name == "fc.bias":
        return 0.0, 0.1, False
    raise ValueError(f"no rule for {name}")


def make_spec():
    tensors = []
    for i, (name, shape) in enumerate(state_dict_shapes()):
        offset, scale, use_abs = rule(name, shape)
        tensors.append({"name": name, "shape": shape, "seed": SEED + i, "offset": offset, "scale": scale,
                        "abs": use_abs})
    return {
        "generator": "tools/make_inception_fixture.py",
        "versions": versions(),
        "rule": "r = torch.randn(numel, generator=torch.Generator().manual_seed(seed)) (float32); "
                "value = float32(offset + scale * (abs(r) if abs else r)) in float64",
        "batchnorm_eps": 0.001,
        "tensors": tensors,
    }


def calibrate(spec, x):
    """LSUV-style scales: each conv's weight scale is divided by the RMS of its output (before BN)
    on the preprocessed input `x`, layer by layer in forward order (one pass: a forward hook
    rescales each conv's output before the next layer sees it). Then every conv output has RMS 1,
    every BasicConv2d output (BN with running_var in [0.5, 3], then ReLU) is O(1), and the final
    scales are stored in the spec, so the Swift side needs no calibration of its own."""
    _, full = build_networks(random_state_dict(spec), True)
    factors = {}
    hooks = []
    for name, module in full.named_modules():
        if isinstance(module, torchvision.models.inception.BasicConv2d):
            def hook(conv, inputs, output, name=name):
                rms = float(output.double().pow(2).mean().sqrt())
                factors[name + ".conv.weight"] = 1.0 / rms
                return output / rms
            hooks.append(module.conv.register_forward_hook(hook))
    with torch.no_grad():
        full(x)
    for h in hooks:
        h.remove()
    for t in spec["tensors"]:
        if t["name"].endswith(".conv.weight"):
            t["scale"] = t["scale"] * factors[t["name"]]
    return spec


def random_state_dict(spec):
    sd = {}
    for t in spec["tensors"]:
        n = math.prod(t["shape"])
        r = torch.randn(n, generator=torch.Generator().manual_seed(t["seed"]), dtype=torch.float32).double()
        if t["abs"]:
            r = r.abs()
        sd[t["name"]] = (t["offset"] + t["scale"] * r).float().reshape(t["shape"])
    return sd


def build_networks(sd, resize_input):
    """pytorch-fid's InceptionV3 and the full torchvision Inception3 (for the fc logits), from `sd`."""
    original = fid_inception.load_state_dict_from_url
    fid_inception.load_state_dict_from_url = lambda url, progress=True: dict(sd)
    try:
        net = fid_inception.InceptionV3([3], resize_input=resize_input, normalize_input=True,
                                        use_fid_inception=True).eval()
        full = fid_inception.fid_inception_v3().eval()
    finally:
        fid_inception.load_state_dict_from_url = original
    return net, full


def activation_rms(full, x):
    """RMS of each stage's output (the proof that activations stay O(1))."""
    out = {}
    hooks = []
    names = ["Conv2d_1a_3x3", "Conv2d_2b_3x3", "Conv2d_4a_3x3", "Mixed_5b", "Mixed_5d", "Mixed_6a", "Mixed_6e",
             "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool", "fc"]
    for name in names:
        hooks.append(getattr(full, name).register_forward_hook(
            lambda m, i, o, name=name: out.__setitem__(name, float(o.double().pow(2).mean().sqrt()))))
    with torch.no_grad():
        full(x)
    for h in hooks:
        h.remove()
    return out


def run_case(net, full, net64, full64, images):
    """pool3 features and logits of pytorch-fid on images in [-1, 1] (1 channel repeated to 3)."""
    x = images if images.shape[1] == 3 else images.repeat(1, 3, 1, 1)
    x01 = (x + 1) / 2
    with torch.no_grad():
        pool3 = net(x01)[0].flatten(1)
        logits = F.linear(pool3, full.fc.weight, full.fc.bias)
        # The same through torchvision's own Inception3.forward on pytorch-fid's preprocessed input.
        pre = x01
        if net.resize_input:
            pre = F.interpolate(pre, size=(299, 299), mode="bilinear", align_corners=False)
        pre = 2 * pre - 1
        check = full(pre)
        assert torch.equal(check, logits) or (check - logits).abs().max() < 1e-5, "fc(pool3) != Inception3.forward"
        pool3_64 = net64(x01.double())[0].flatten(1)
        logits64 = F.linear(pool3_64, full64.fc.weight, full64.fc.bias)
    rel = lambda a, b: float((a.double() - b).norm() / b.norm())  # noqa: E731
    return pool3, logits, {"features": rel(pool3, pool3_64), "logits": rel(logits, logits64)}, pre


def flat(t):
    return [float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def images(generator, n, c, h, w, smooth):
    """8-bit images: pixel values k in 0...255 and the model-space images k/127.5 - 1 (float32).
    Image i is uniform noise when smooth[i] is 0, else smooth[i] times a random smooth pattern
    (sinusoids of random frequency, phase and colour) plus (1 - smooth[i]) times noise: inputs that
    differ in structure, so their features differ by more than the noise images' few percent."""
    noise = torch.rand(n, c, h, w, generator=generator, dtype=torch.float64)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    out = torch.empty(n, c, h, w, dtype=torch.int64)
    for i in range(n):
        p = torch.rand(c, 6, generator=generator, dtype=torch.float64)
        pattern = torch.stack([0.5 + 0.25 * torch.sin(xx * p[j, 0] * 0.8 + yy * p[j, 1] * 0.5 + 6.3 * p[j, 2])
                               + 0.25 * torch.cos(xx * p[j, 3] * 0.3 - yy * p[j, 4] * 0.9 + 6.3 * p[j, 5])
                               for j in range(c)])
        value = smooth[i] * pattern + (1 - smooth[i]) * noise[i]
        out[i] = (value * 255).round().clamp(0, 255).to(torch.int64)
    return out, out.to(torch.float32) / 127.5 - 1


def make_golden(spec):
    g = torch.Generator().manual_seed(INPUT_SEED)
    cases_in = [("grey28", *images(g, 2, 1, 28, 28, [0, 1]), True), ("rgb32", *images(g, 1, 3, 32, 32, [0.8]), True),
                ("rgb139_noresize", *images(g, 1, 3, 139, 139, [0.7]), False)]
    grey = cases_in[0][2].repeat(1, 3, 1, 1)
    calibrate(spec, 2 * F.interpolate((grey + 1) / 2, size=(299, 299), mode="bilinear", align_corners=False) - 1)
    sd = random_state_dict(spec)
    nets = {}
    for resize in (True, False):
        net, full = build_networks(sd, resize)
        net64, full64 = build_networks({k: v.double() for k, v in sd.items()}, resize)
        net64.double(); full64.double()
        nets[resize] = (net, full, net64, full64)
    cases = []
    rms = None
    for name, pixels, x, resize in cases_in:
        net, full, net64, full64 = nets[resize]
        features, logits, f64, pre = run_case(net, full, net64, full64, x)
        if rms is None:
            rms = {"input": float(pre.double().pow(2).mean().sqrt()), **activation_rms(full, pre)}
        print(f"{name}: features rms {float(features.pow(2).mean().sqrt()):.4f}, logits rms "
              f"{float(logits.pow(2).mean().sqrt()):.4f}; float32 vs float64 rel L2 {f64}", file=sys.stderr)
        cases.append({"name": name, "resize_input": resize, "shape": list(x.shape),
                      "pixels": [int(v) for v in pixels.reshape(-1).tolist()],
                      "features": flat(features), "logits": flat(logits), "f64_vs_f32_rel_l2": f64})
    print("activation RMS per stage (grey28):", json.dumps(rms), file=sys.stderr)
    return {"generator": "tools/make_inception_fixture.py", "versions": versions(), "input_seed": INPUT_SEED,
            "activation_rms": rms, "cases": cases}, sd


def make_kernel_goldens():
    g = torch.Generator().manual_seed(20260531)
    cases = []

    def add(op, x, y, **params):
        cases.append({"op": op, "shape": list(x.shape), "params": params, "input": flat(x),
                      "out_shape": list(y.shape), "expected": flat(y)})

    x = torch.randn(2, 3, 9, 8, generator=g)
    x[0, 0, 0, 0] = 5.0  # a corner maximum reached only through padded windows
    add("max_pool2d", x, F.max_pool2d(x, 3, stride=2), kernel=3, stride=2, padding=0)
    add("max_pool2d", x, F.max_pool2d(x, 3, stride=1, padding=1), kernel=3, stride=1, padding=1)
    add("avg_pool2d", x, F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False),
        kernel=3, stride=1, padding=1, count_include_pad=False)
    add("avg_pool2d", x, F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True),
        kernel=3, stride=1, padding=1, count_include_pad=True)
    add("avg_pool2d", x, F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
        kernel=3, stride=2, padding=1, count_include_pad=False)
    add("adaptive_avg_pool2d_1", x, F.adaptive_avg_pool2d(x, 1))
    for (n, h, w), (oh, ow) in [((2, 5, 7), (13, 11)), ((1, 14, 14), (45, 45)), ((2, 9, 8), (4, 6)),
                                ((2, 6, 6), (6, 15)), ((2, 1, 4), (3, 9))]:
        y = torch.rand(n, 2, h, w, generator=g)
        add("interpolate_bilinear", y, F.interpolate(y, size=(oh, ow), mode="bilinear", align_corners=False),
            size=[oh, ow])
    return {"generator": "tools/make_inception_fixture.py", "versions": versions(), "cases": cases}


def dump(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    parser.add_argument("--save-pth", metavar="PATH", help="also save the random state dict as a .pth")
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = make_spec()
    golden, sd = make_golden(spec)  # calibrates the spec's conv scales first
    outputs = {os.path.join(OUT_DIR, "spec.json"): dump(spec), os.path.join(OUT_DIR, "golden.json"): dump(golden),
               os.path.join(TENSOR_DIR, "pool_resize.json"): dump(make_kernel_goldens())}
    if args.save_pth:
        torch.save(sd, args.save_pth)
        print(f"wrote {args.save_pth}", file=sys.stderr)
    if args.check:
        bad = [p for p, text in outputs.items() if not os.path.exists(p) or open(p).read() != text]
        print("differs: " + ", ".join(bad) if bad else "all fixtures identical", file=sys.stderr)
        sys.exit(1 if bad else 0)
    for path, text in outputs.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        print(f"wrote {os.path.relpath(path, ROOT)} ({len(text) // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()

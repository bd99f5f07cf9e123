#!/usr/bin/env python3
"""A tiny guided-diffusion evaluator reference batch, Tests/Fixtures/adm/reference_batch.npz, and the
same FID statistics alone, Tests/Fixtures/adm/reference_stats.npz:

    python tools/make_reference_batch_fixture.py

guided-diffusion's evaluations/evaluator.py reads a reference batch (VIRTUAL_imagenet256_labeled.npz
and its siblings) as an .npz holding arr_0 (the reference images, N x H x W x 3 uint8), mu and sigma
(the pool_3 FID statistics, float64) and mu_s and sigma_s (the spatial statistics of sFID); its
read_statistics takes mu/sigma and mu_s/sigma_s when "mu" is present. This file has that layout,
written by np.savez, at the 128-d feature size of skipstep's default Fashion-MNIST feature network
(random but valid statistics: sigma = A A^T / n), with 7-d spatial statistics and a 2 x 8 x 8 x 3
arr_0; reference_stats.npz holds the same mu and sigma only (pytorch-fid's layout).
Tests/CLITests/ADMCLITests.swift checks that eval scores FID against either identically.

Versions: Python 3.11.7, numpy 2.4.6.
"""

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "adm"


def main() -> None:
    rng = np.random.default_rng(19)
    a = rng.standard_normal((128, 256))
    mu, sigma = 0.3 * rng.standard_normal(128), a @ a.T / 256
    b = rng.standard_normal((7, 20))
    mu_s, sigma_s = rng.standard_normal(7), b @ b.T / 20
    arr_0 = rng.integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    np.savez(OUT / "reference_batch.npz", arr_0=arr_0, mu=mu, sigma=sigma, mu_s=mu_s, sigma_s=sigma_s)
    np.savez(OUT / "reference_stats.npz", mu=mu, sigma=sigma)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Goldens for the Gaussian-mixture oracle (Sources/Models/GaussianMixture.swift).

Writes Tests/Fixtures/models/gmm_eps.json: small mixtures (D = 3..5) with, at several noise
levels ᾱ, the exact posterior noise E[ε | x_t], the posterior component weights and the
log-density of the noised marginal, computed independently of the Swift code:

    x_t | k ~ N(√ᾱ μ_k, C_k),  C_k = ᾱ Σ_k + (1 − ᾱ) I
    w_k(x_t) ∝ π_k N(x_t; √ᾱ μ_k, C_k)                  (scipy.stats.multivariate_normal.logpdf,
                                                          scipy.special.logsumexp)
    E[ε | x_t] = √(1 − ᾱ) Σ_k w_k C_k⁻¹ (x_t − √ᾱ μ_k)  (numpy.linalg.solve)

plus each mixture's exact mean and covariance, and a per-class fit (np.cov, ddof=1, + r·I) on a
small labelled data set.

Also writes Tests/Fixtures/models/reference.safetensors with the reference writer
(safetensors.numpy.save_file), so the Swift reader is checked against a file it did not write.

Command (from the repository root):
    python3 tools/make_gmm_goldens.py
Made with Python 3.11.7, numpy 2.4.6, scipy 1.17.1, safetensors 0.8.0 (stored in the JSON).
Deterministic: numpy.random.default_rng(20250815).
"""

import json
import os
import platform
import sys

import numpy as np
import safetensors
import scipy
from safetensors.numpy import save_file
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "models", "gmm_eps.json")
ALPHA_BARS = [1.0, 0.999, 0.9, 0.5, 0.05, 1e-4, 0.0]


def random_spd(rng, d, scale):
    a = rng.normal(size=(d, d)) * scale
    return a @ a.T + 0.05 * scale**2 * np.eye(d)


def make_case(rng, name, sample_shape, weights, means, covariances, points_per_level=6):
    d = int(np.prod(sample_shape))
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    assert means.shape == (len(weights), d) and covariances.shape == (len(weights), d, d)

    mixture_mean = np.einsum("k,ki->i", weights, means)
    centred = means - mixture_mean
    mixture_cov = np.einsum("k,kij->ij", weights, covariances) + np.einsum("k,ki,kj->ij", weights, centred, centred)

    evaluations = []
    for ab in ALPHA_BARS:
        # Points: draws from the noised mixture, plus two far outliers (tails test log-sum-exp).
        ks = rng.choice(len(weights), size=points_per_level - 2, p=weights)
        x0 = np.array([rng.multivariate_normal(means[k], covariances[k]) for k in ks])
        eps = rng.normal(size=x0.shape)
        xt = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps
        far = rng.normal(size=(2, d)) * 6 + np.sqrt(ab) * means[0]
        xt = np.vstack([xt, far])

        covs_t = [ab * covariances[k] + (1 - ab) * np.eye(d) for k in range(len(weights))]
        logp = np.stack(
            [np.log(weights[k]) + multivariate_normal.logpdf(xt, np.sqrt(ab) * means[k], covs_t[k]) for k in range(len(weights))],
            axis=1,
        ).reshape(len(xt), len(weights))
        log_density = logsumexp(logp, axis=1)
        w = np.exp(logp - log_density[:, None])
        eps_hat = np.zeros_like(xt)
        for k in range(len(weights)):
            sol = np.linalg.solve(covs_t[k], (xt - np.sqrt(ab) * means[k]).T).T
            eps_hat += w[:, k : k + 1] * np.sqrt(1 - ab) * sol
        evaluations.append(
            {
                "alpha_bar": ab,
                "x": xt.tolist(),
                "eps": eps_hat.tolist(),
                "log_density": log_density.tolist(),
                "component_weights": w.tolist(),
            }
        )
    return {
        "name": name,
        "sample_shape": list(sample_shape),
        "weights": weights.tolist(),
        "means": means.tolist(),
        "covariances": covariances.tolist(),
        "mixture_mean": mixture_mean.tolist(),
        "mixture_covariance": mixture_cov.tolist(),
        "evaluations": evaluations,
    }


def main():
    rng = np.random.default_rng(20250815)
    cases = []

    d = 3
    cases.append(make_case(rng, "d3k3", [3], [0.5, 0.3, 0.2], rng.normal(size=(3, d)) * 1.5,
                           [random_spd(rng, d, s) for s in (0.5, 1.0, 0.3)]))
    d = 5
    cases.append(make_case(rng, "d5k2", [1, 5], [0.7, 0.3], rng.normal(size=(2, d)),
                           [random_spd(rng, d, s) for s in (0.4, 0.8)]))
    d = 4
    cases.append(make_case(rng, "d4k1", [2, 2], [1.0], rng.normal(size=(1, d)), [random_spd(rng, d, 0.7)]))
    # Well separated, sharp components: posterior weights saturate at 0/1, densities underflow
    # without log-sum-exp; one eigenvalue 1e-3 (the fashion-gmm ridge) per component.
    d = 3
    sharp = []
    for _ in range(3):
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        sharp.append(q @ np.diag([1e-3, 0.02, 0.05]) @ q.T)
    cases.append(make_case(rng, "d3k3_separated", [3], [0.2, 0.5, 0.3],
                           np.array([[-8.0, 0.0, 1.0], [0.0, 8.0, -1.0], [8.0, -4.0, 0.0]]), sharp))

    # Per-class fit: 3 classes in D = 4, covariance with divisor n_k − 1 plus r·I, π_k = n_k / n.
    labels = np.array([0] * 7 + [1] * 5 + [2] * 9)
    rng.shuffle(labels)
    samples = rng.normal(size=(len(labels), 4)) + labels[:, None]
    r = 1e-3
    fit = {
        "sample_shape": [4],
        "regularization": r,
        "samples": samples.tolist(),
        "labels": labels.tolist(),
        "weights": [float(np.mean(labels == k)) for k in range(3)],
        "means": [samples[labels == k].mean(axis=0).tolist() for k in range(3)],
        "covariances": [(np.cov(samples[labels == k], rowvar=False, ddof=1) + r * np.eye(4)).tolist() for k in range(3)],
    }

    out = {
        "generator": "tools/make_gmm_goldens.py",
        "command": "python3 tools/make_gmm_goldens.py",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "safetensors": safetensors.__version__,
        "seed": 20250815,
        "cases": cases,
        "fit": fit,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)}", file=sys.stderr)

    # The reference writer's layout: F64 [2, 3] = 0.5·(0..5), F32 [4] = −1.25·(0..3), I64 [] = 7.
    reference = os.path.join(os.path.dirname(OUT), "reference.safetensors")
    save_file(
        {
            "f64": 0.5 * np.arange(6, dtype=np.float64).reshape(2, 3),
            "f32": -1.25 * np.arange(4, dtype=np.float32),
            "i64": np.array(7, dtype=np.int64),
        },
        reference,
        metadata={"format": "test", "note": "made by tools/make_gmm_goldens.py"},
    )
    print(f"wrote {os.path.relpath(reference)}", file=sys.stderr)


if __name__ == "__main__":
    main()

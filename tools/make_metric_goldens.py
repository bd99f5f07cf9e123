"""Goldens for the Metrics module (FID, KID, precision/recall, IS, streaming statistics).

Versions: Python 3.11.7, numpy 2.4.6, scipy 1.17.1. Neither pytorch-fid nor torch-fidelity is
installed; their formulas are re-implemented here verbatim in numpy/scipy from their source:

- FID: pytorch-fid `fid_score.calculate_frechet_distance` (scipy.linalg.sqrtm of sigma1·sigma2,
  eps·I offset retry when not finite, real part taken), mean/cov as `np.mean(axis=0)` and
  `np.cov(rowvar=False)`.
- KID: torch-fidelity `metric_kid.py` (`polynomial_kernel` with gamma = 1/d, coef0 = 1,
  degree 3; `mmd2` with mmd_est="unbiased"; mean and `np.std` (ddof = 0) over subsets), but with
  the subset index lists fixed here and stored in the fixture instead of drawn inside.
- Precision/recall: Kynkäänniemi et al. 2019 (NVlabs/precision-recall, `ManifoldEstimator`):
  radius = k-th nearest neighbour distance within the set (self excluded), sample counted when
  `distance <= radius` of any sample of the other set; k = 3. Squared distances compared.
- IS: torch-fidelity `metric_isc.py` `isc_features_to_metric` with shuffle=False: Float64
  softmax / log_softmax, splits [i*N//splits, (i+1)*N//splits), exp(mean KL(p(y|x) || p(y))),
  mean and `np.std` (ddof = 0) over splits (same convention as the original improved-GAN code).

Features are drawn as float32 (the values Swift reads) and every reference is computed in float64.

Command (from the repository root):
    python3 tools/make_metric_goldens.py
writes Tests/Fixtures/metrics/*.json.
"""
import json
import os

import numpy as np
import scipy.linalg as linalg

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "metrics")


def f32(a):
    return np.asarray(a, dtype=np.float32)


def flat(a):
    return [float(v) for v in np.asarray(a).ravel()]


def write(name, obj):
    with open(os.path.join(OUT, name), "w") as fh:
        json.dump(obj, fh)
        fh.write("\n")


def calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid fid_score.calculate_frechet_distance, verbatim apart from the warnings."""
    mu1 = np.atleast_1d(mu1)
    mu2 = np.atleast_1d(mu2)
    sigma1 = np.atleast_2d(sigma1)
    sigma2 = np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component {}".format(np.max(np.abs(covmean.imag))))
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean


def frechet_eig(mu1, s1, mu2, s2):
    """Independent check: tr sqrt(S1 S2) = sum sqrt(eig(sqrt(S1) S2 sqrt(S1)))."""
    w, u = np.linalg.eigh(s1)
    r = (u * np.sqrt(np.clip(w, 0, None))) @ u.T
    m = r @ s2 @ r
    lam = np.linalg.eigvalsh((m + m.T) / 2)
    d = mu1 - mu2
    return d @ d + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(lam, 0, None)).sum()


def fid_case(name, x, y):
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    mu1, s1 = x64.mean(axis=0), np.cov(x64, rowvar=False)
    mu2, s2 = y64.mean(axis=0), np.cov(y64, rowvar=False)
    fid = float(calculate_frechet_distance(mu1, s1, mu2, s2))
    fid_eig = float(frechet_eig(mu1, s1, mu2, s2))
    print(f"{name}: scipy {fid!r}  eig {fid_eig!r}  rel {abs(fid - fid_eig) / abs(fid_eig):.2e}")
    return {"dimension": x.shape[1], "x": flat(x), "y": flat(y),
            "fid_scipy": fid, "fid_eig": fid_eig}


def polynomial_kernel(X, Y, degree=3, gamma=None, coef0=1):
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return (X @ Y.T * gamma + coef0) ** degree


def mmd2(K_XX, K_XY, K_YY):
    """torch-fidelity mmd2, unit_diagonal=False, mmd_est='unbiased'."""
    m = K_XX.shape[0]
    diag_X = np.diagonal(K_XX)
    diag_Y = np.diagonal(K_YY)
    Kt_XX_sums = K_XX.sum(axis=1) - diag_X
    Kt_YY_sums = K_YY.sum(axis=1) - diag_Y
    K_XY_sums_0 = K_XY.sum(axis=0)
    Kt_XX_sum = Kt_XX_sums.sum()
    Kt_YY_sum = Kt_YY_sums.sum()
    K_XY_sum = K_XY_sums_0.sum()
    value = (Kt_XX_sum + Kt_YY_sum) / (m * (m - 1))
    value -= 2 * K_XY_sum / (m * m)
    return value


def sqdist(a, b):
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)


def knn_radii(a, k):
    d = sqdist(a, a)
    np.fill_diagonal(d, np.inf)  # self excluded
    return np.sort(d, axis=1)[:, k - 1], d


def coverage(queries, ref, radii):
    d = sqdist(queries, ref)
    inside = d <= radii[None, :]
    # The goldens must not depend on the last bits of a distance: demand a clear margin.
    gap = np.abs(d - radii[None, :]) / np.maximum(radii[None, :], 1e-300)
    assert gap.min() > 1e-9, gap.min()
    return float(inside.any(axis=1).mean())


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20260523)

    # Streaming statistics: 203 x 16, fed in uneven batches (one empty).
    d = 16
    mix = rng.standard_normal((d, d)) * 0.5 + np.eye(d)
    x = f32(rng.standard_normal((203, d)) @ mix + 3.0)
    batches = [1, 37, 0, 100, 2, 63]
    assert sum(batches) == x.shape[0]
    x64 = x.astype(np.float64)
    write("stats.json", {"dimension": d, "x": flat(x), "batches": batches,
                         "mean": flat(x64.mean(axis=0)), "cov": flat(np.cov(x64, rowvar=False))})

    # FID, full rank: 200 x 16 each, different means and covariances.
    a = f32(rng.standard_normal((200, d)) @ mix)
    b = f32(rng.standard_normal((200, d)) @ (mix * 0.8 + 0.1 * rng.standard_normal((d, d))) + 0.3)
    write("fid.json", fid_case("fid", a, b))
    # FID, rank-deficient: 10 x 16 each (both covariances singular, rank 9).
    a = f32(rng.standard_normal((10, d)))
    b = f32(rng.standard_normal((10, d)) * 1.2 + 0.5)
    write("fid_rank_deficient.json", fid_case("fid_rank_deficient", a, b))

    # KID: 50 x 8 vs 60 x 8, 5 subsets of 20 drawn without replacement.
    d = 8
    x = f32(rng.standard_normal((50, d)))
    y = f32(rng.standard_normal((60, d)) * 1.3 + 0.4)
    subsets, mmds = [], []
    for _ in range(5):
        ix = rng.choice(50, 20, replace=False)
        iy = rng.choice(60, 20, replace=False)
        f1, f2 = x.astype(np.float64)[ix], y.astype(np.float64)[iy]
        mmds.append(mmd2(polynomial_kernel(f1, f1), polynomial_kernel(f1, f2), polynomial_kernel(f2, f2)))
        subsets.append({"x": [int(i) for i in ix], "y": [int(i) for i in iy]})
    mmds = np.array(mmds)
    write("kid.json", {"dimension": d, "x": flat(x), "y": flat(y), "subsets": subsets,
                       "mmd2": flat(mmds), "mean": float(np.mean(mmds)), "std": float(np.std(mmds))})

    # Precision/recall: real 60 x 8, generated 70 x 8, k = 3.
    real = f32(rng.standard_normal((60, d)))
    gen = f32(rng.standard_normal((70, d)) * 0.9 + 0.35)
    r64, g64 = real.astype(np.float64), gen.astype(np.float64)
    real_r, _ = knn_radii(r64, 3)
    gen_r, _ = knn_radii(g64, 3)
    precision = coverage(g64, r64, real_r)
    recall = coverage(r64, g64, gen_r)
    print(f"precision {precision} recall {recall}")
    write("precision_recall.json", {"dimension": d, "k": 3, "real": flat(real), "generated": flat(gen),
                                     "precision": precision, "recall": recall,
                                     "real_radii_sq": flat(real_r), "generated_radii_sq": flat(gen_r)})

    # Inception Score: 100 x 10 logits, 10 splits, no shuffle.
    logits = f32(rng.standard_normal((100, 10)) * 3.0)
    lg = logits.astype(np.float64)
    lg = lg - lg.max(axis=1, keepdims=True)
    log_p = lg - np.log(np.exp(lg).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    n, splits, scores = lg.shape[0], 10, []
    for i in range(splits):
        pc = p[i * n // splits:(i + 1) * n // splits]
        lpc = log_p[i * n // splits:(i + 1) * n // splits]
        q = pc.mean(axis=0, keepdims=True)
        kl = (pc * (lpc - np.log(q))).sum(axis=1).mean()
        scores.append(float(np.exp(kl)))
    write("inception_score.json", {"classes": 10, "splits": splits, "logits": flat(logits),
                                   "scores": scores, "mean": float(np.mean(scores)),
                                   "std": float(np.std(scores))})


if __name__ == "__main__":
    main()

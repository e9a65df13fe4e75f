"""
Confidence intervals and correlation tests
==========================================
"""
import numpy as np
import pandas as pd
from numpy.random import default_rng
from scipy.stats import norm, pearsonr, t, spearmanr


def mean_ci(sample, level=0.95):
    n = len(sample)
    m, s = np.mean(sample), np.std(sample, ddof=1)
    crit = t.ppf(0.5 + level / 2, df=n - 1)
    half = crit * s / np.sqrt(n)
    return m - half, m + half


def z_interval(sample, sigma, level=0.95):
    z = norm.ppf(0.5 + level / 2)
    half = z * sigma / np.sqrt(len(sample))
    return np.mean(sample) - half, np.mean(sample) + half


def one_sample_t(sample, mu0):
    n = len(sample)
    stat = (np.mean(sample) - mu0) / (np.std(sample, ddof=1) / np.sqrt(n))
    return stat, 2 * t.sf(abs(stat), df=n - 1)


rng = default_rng(12345)
sample = rng.normal(loc=5.0, scale=2.0, size=40)
print("t interval:", np.round(mean_ci(sample), 4))
print("z interval:", np.round(z_interval(sample, sigma=2.0), 4))
for mu0 in (4.5, 5.0, 6.0):
    stat, p = one_sample_t(sample, mu0)
    print(f"H0: mu={mu0}: t={stat:.4f}, p={p:.4f}")

print("norm.ppf:", np.round(norm.ppf([0.025, 0.5, 0.975]), 6))
print("norm.cdf(1.96) =", round(float(norm.cdf(1.96)), 6), "norm.pdf(0) =", round(float(norm.pdf(0)), 6))
print("t.sf(2.0, df=[5, 30]):", np.round(t.sf(2.0, df=[5, 30]), 6))
frozen = norm(loc=10, scale=3)
print("frozen mean/std:", frozen.mean(), frozen.std(), "interval:", np.round(frozen.interval(0.9), 4))
print("rvs:", np.round(norm.rvs(size=3, random_state=0), 6))

houses = pd.read_csv("data/houses.csv").dropna(subset=["area", "lot_size"])
for col in ["area", "bedrooms", "lot_size"]:
    r, p = pearsonr(houses[col], houses["price"])
    rho, _ = spearmanr(houses[col], houses["price"])
    print(f"{col:>10}: pearson r={r:.4f} (p={p:.2e}), spearman rho={rho:.4f}")

res = pearsonr(sample[:-1], sample[1:])
print("lag-1 autocorrelation:", round(float(res.statistic), 6), "CI:",
      np.round(res.confidence_interval(0.95), 4))

"""Calibration of rl_rosetta_layer.stats on simulated data with a known answer.

1. Paired tests under the null (two layers with identical distributions,
   sharing a per-seed effect): share of p <= alpha for the exact sign-flip and
   Wilcoxon tests (target 3-7 % at alpha = 0.05), and, end to end through
   compare_to_selected, the bootstrap CI of the difference excluding 0 and the
   family-wise error of the Holm-corrected tests over 4 comparisons.
2. Coverage of 95 % bootstrap CIs of a known mean / IQM at 10 seeds for each
   method (target 92-98 %), plus a stratified case and other seed counts.

Usage: PYTHONPATH=src python bench/stats_calibration.py [--sims N] [--seed S] [--quick]
Prints tables and a final headline line starting with STATS CALIBRATION. ``--quick`` (100
simulations per cell, 10 end to end) checks the code path; its rates are too noisy for the
bands.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from rl_rosetta_layer import stats

ALPHA, LEVEL, BAND_P, BAND_COV = 0.05, 0.95, (0.03, 0.07), (0.92, 0.98)


def null_pairs(rng, n, sims, dist):
    """(n, sims) paired differences of two identically distributed layers."""
    draw = {
        "normal": lambda s: rng.normal(size=s),
        "t3": lambda s: rng.standard_t(3, size=s),
        "lognormal": lambda s: rng.lognormal(0.0, 1.0, size=s),
    }[dist]
    seed_effect = rng.normal(scale=2.0, size=(n, sims))
    return (seed_effect + draw((n, sims))) - (seed_effect + draw((n, sims)))


def rejection_table(rng, sims):
    rows = []
    for n, dist in [(6, "normal"), (10, "normal"), (10, "t3"), (10, "lognormal"), (20, "normal")]:
        d = null_pairs(rng, n, sims, dist)
        flip = np.array([stats.sign_flip_test(d[:, i]) for i in range(sims)])
        wil = np.array([stats.wilcoxon_p(d[:, i], rng) for i in range(sims)])
        rows.append((n, dist, np.mean(flip <= ALPHA), np.mean(wil <= ALPHA)))
    return rows


def end_to_end(rng, sims, n=10, n_layers=5):
    """compare_to_selected on global-null data: CI excludes 0, Holm family-wise error."""
    ci_excl = flip_any = wil_any = 0
    layers = [f"L{j}" for j in range(n_layers)]
    for _ in range(sims):
        x = rng.normal(scale=2.0, size=(n, 1)) + rng.normal(size=(n, n_layers))
        rows = stats.compare_to_selected(x, layers, "L0", rng, n_resamples=2000)
        ci_excl += not (rows[0]["diff_ci_low"] <= 0.0 <= rows[0]["diff_ci_high"])
        flip_any += any(r["p_sign_flip_holm"] <= ALPHA for r in rows)
        wil_any += any(r["p_wilcoxon_holm"] <= ALPHA for r in rows)
    return ci_excl / sims, flip_any / sims, wil_any / sims


def coverage(rng, x, truth, statistic, method, strata=None, n_resamples=2000):
    lo, hi = stats.bootstrap_ci(
        x, statistic, rng, confidence=LEVEL, method=method, n_resamples=n_resamples, strata=strata
    )
    return float(np.mean((lo <= truth) & (truth <= hi)))


def coverage_table(rng, sims, n=10):
    cases = [
        ("normal", "mean", lambda s: rng.normal(size=s), 0.0),
        ("normal", "iqm", lambda s: rng.normal(size=s), 0.0),
        ("t3", "mean", lambda s: rng.standard_t(3, size=s), 0.0),
        ("t3", "iqm", lambda s: rng.standard_t(3, size=s), 0.0),
        ("lognormal(0,0.5)", "mean", lambda s: rng.lognormal(0, 0.5, size=s), float(np.exp(0.125))),
    ]
    rows = []
    for dist, statistic, draw, truth in cases:
        x = draw((n, sims))
        rows.append(
            (dist, statistic, {m: coverage(rng, x, truth, statistic, m) for m in stats.METHODS})
        )
    # stratified: 2 environments x 5 seeds, different means and scales; truth = mean of env means
    x = np.vstack([rng.normal(0.0, 1.0, size=(5, sims)), rng.normal(10.0, 3.0, size=(5, sims))])
    strata = np.repeat([0, 1], 5)
    rows.append(
        (
            "2 envs x 5 seeds",
            "mean",
            {m: coverage(rng, x, 5.0, "mean", m, strata) for m in stats.METHODS},
        )
    )
    return rows


def seeds_table(rng, sims):
    return [
        (n, {m: coverage(rng, rng.normal(size=(n, sims)), 0.0, "mean", m) for m in stats.METHODS})
        for n in (3, 5, 10, 20)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sims", type=int, default=4000, help="simulated data sets per cell (default 4000)"
    )
    ap.add_argument(
        "--e2e-sims",
        type=int,
        default=1000,
        help="end-to-end compare_to_selected runs (default 1000)",
    )
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--quick", action="store_true",
                    help="100 simulations per cell, 10 end to end (code path only)")
    args = ap.parse_args(argv)
    if args.quick:
        args.sims, args.e2e_sims = 100, 10
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    se_p = np.sqrt(ALPHA * (1 - ALPHA) / args.sims)
    print(
        f"1. Paired tests under the null, alpha = {ALPHA} ({args.sims} simulations per row; "
        f"binomial SE ~{100 * se_p:.2f} points)"
    )
    print(f"   {'seeds':>5} {'differences':<36} {'sign-flip':>10} {'Wilcoxon':>10}")
    rej = rejection_table(rng, args.sims)
    for n, dist, pf, pw in rej:
        print(
            f"   {n:>5} {dist + ' (seed effect + noise)':<36} {100 * pf:>9.2f}% {100 * pw:>9.2f}%"
        )
    ci_excl, fwer_f, fwer_w = end_to_end(rng, args.e2e_sims)
    print(
        f"   end to end, compare_to_selected, 10 seeds, 5 layers, {args.e2e_sims} runs: "
        f"diff CI (default method) excludes 0 {100 * ci_excl:.1f}%; "
        f"Holm family-wise error over 4 comparisons: sign-flip {100 * fwer_f:.1f}%, Wilcoxon "
        f"{100 * fwer_w:.1f}%"
    )

    se_c = np.sqrt(LEVEL * (1 - LEVEL) / args.sims)
    print(
        f"\n2. Coverage of {int(100 * LEVEL)}% bootstrap CIs at 10 seeds ({args.sims} simulations "
        f"per cell, "
        f"2000 resamples; binomial SE ~{100 * se_c:.2f} points; default method: "
        f"'{stats.DEFAULT_METHOD}')"
    )
    print(f"   {'data':<18} {'statistic':<9} " + " ".join(f"{m:>11}" for m in stats.METHODS))
    cov = coverage_table(rng, args.sims)
    for dist, statistic, c in cov:
        print(
            f"   {dist:<18} {statistic:<9} "
            + " ".join(f"{100 * c[m]:>10.1f}%" for m in stats.METHODS)
        )
    print(
        "\n   Coverage of the mean (normal data) by seed count; no bootstrap CI leaves the observed"
        "\n   min..max, so coverage is capped at 1 - 2^(1-n):"
    )
    print(f"   {'seeds':>5} " + " ".join(f"{m:>11}" for m in stats.METHODS) + "   bound 1-2^(1-n)")
    for n, c in seeds_table(rng, args.sims):
        print(
            f"   {n:>5} "
            + " ".join(f"{100 * c[m]:>10.1f}%" for m in stats.METHODS)
            + f"   {100 * stats.max_bootstrap_coverage(n):>14.1f}%"
        )

    n10 = [r for r in rej if r[0] == 10 and r[1] == "normal"][0]
    tests_ok = all(BAND_P[0] <= v <= BAND_P[1] for v in n10[2:])
    dflt = {f"{d}/{s}": c[stats.DEFAULT_METHOD] for d, s, c in cov if d == "normal"}
    cov_ok = all(BAND_COV[0] <= v <= BAND_COV[1] for v in dflt.values())
    misses = [
        f"{m} {100 * c[m]:.1f}%"
        for d, s, c in cov
        if d == "normal" and s == "mean"
        for m in stats.METHODS
        if not BAND_COV[0] <= c[m] <= BAND_COV[1]
    ]
    print(f"\n   ({time.time() - t0:.0f} s)")
    print(
        f"STATS CALIBRATION: n=10 normal: null rejection sign-flip {100 * n10[2]:.1f}%, Wilcoxon "
        f"{100 * n10[3]:.1f}% "
        f"(band 3-7%: {'PASS' if tests_ok else 'FAIL'}); 95% CI coverage, default "
        f"'{stats.DEFAULT_METHOD}': "
        + ", ".join(f"{k} {100 * v:.1f}%" for k, v in dflt.items())
        + f" (band 92-98%: {'PASS' if cov_ok else 'FAIL'})"
        + (f"; outside the band for the mean: {', '.join(misses)}" if misses else "")
        + (" (quick: too few simulations for the bands)" if args.quick else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

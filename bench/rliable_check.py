"""Check stats.iqm, stats.bootstrap_ci, stats.optimality_gap and stats.score_distribution
against rliable on the same data.

rliable (``metrics.aggregate_iqm``, ``library.get_interval_estimates`` with
the percentile method) takes scores of shape (runs, tasks): its IQM is the
25 %-trimmed mean over all runs x tasks, and its bootstrap resamples runs
within each task. The same data in our layout is one column per algorithm
with rows = runs x tasks and ``strata`` = the task of each row.

rliable imports only with pandas < 3, so it is an optional dependency of this
script: without it the script says so and exits with status 0. To run it:

    python -m venv /tmp/rl-venv
    /tmp/rl-venv/bin/pip install 'pandas<3' rliable numpy scipy
    PYTHONPATH=src /tmp/rl-venv/bin/python bench/rliable_check.py

Bootstrap noise is measured by repeating our interval with several Generator
seeds; the endpoints agree when |ours - rliable| is within 4 standard
deviations of that noise (x sqrt(2), both sides are noisy) or within 1 % of
the interval width. The optimality gap (``metrics.aggregate_optimality_gap``) and the
performance profile's point estimates (``library.create_performance_profile``, the
run-score distribution) must agree to 1e-12. Prints a table and a final line starting
with RLIABLE CHECK.
``--quick`` uses 2,000 resamples and 2 repetitions (code path only).
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from rl_rosetta_layer import stats

REPS = 20000
N_REPEAT = 5


def _import_rliable():
    try:
        from rliable import library, metrics
    except Exception as exc:  # ImportError, or pandas >= 3 breaking rliable's import
        print(f"rliable is not available ({type(exc).__name__}: {exc}); nothing to check.")
        print("Install it in a throwaway venv: pip install 'pandas<3' rliable numpy scipy")
        print("RLIABLE CHECK: skipped (rliable not installed, or not importable here)")
        sys.exit(0)
    return library, metrics


def to_columns(score_dict):
    """{alg: (runs, tasks)} -> x (runs * tasks, algs), strata (runs * tasks,) or None."""
    algs = list(score_dict)
    runs, tasks = score_dict[algs[0]].shape
    x = np.column_stack([score_dict[a].reshape(-1) for a in algs])
    strata = np.tile(np.arange(tasks), runs) if tasks > 1 else None
    return x, strata, algs


def _check_profiles(gen, library, metrics) -> float:
    """Largest |ours - rliable| of the optimality gap and the performance profile's point
    estimates over a few (runs, tasks) score matrices; prints one line per case."""
    worst = 0.0
    taus = np.linspace(-1.0, 2.0, 31)
    for runs, tasks in ((10, 5), (3, 1), (7, 2)):
        scores = {"A": gen.normal(0.6, 0.5, size=(runs, tasks))}
        x, _, _ = to_columns(scores)
        gap = abs(float(stats.optimality_gap(x, gamma=1.0)[0])
                  - float(metrics.aggregate_optimality_gap(scores["A"], 1.0)))
        profile, _ = library.create_performance_profile(scores, taus, reps=100)
        prof = float(np.abs(stats.score_distribution(x, taus)[:, 0] - profile["A"]).max())
        worst = max(worst, gap, prof)
        print(f"{runs} runs x {tasks} tasks: optimality gap |diff| {gap:.1e}, performance "
              f"profile max |diff| {prof:.1e}")
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2,000 resamples, 2 repetitions (code path only)")
    args = parser.parse_args(argv)
    reps, n_repeat = (2000, 2) if args.quick else (REPS, N_REPEAT)
    library, metrics = _import_rliable()
    warnings.filterwarnings(
        "ignore", category=FutureWarning, module="arch"
    )  # rliable passes random_state to arch
    gen = np.random.default_rng(0)
    cases = {
        "10 runs x 5 tasks": (10, 5),
        "10 runs x 1 task": (10, 1),
        "5 runs x 3 tasks": (5, 3),
    }
    worst_iqm = 0.0
    all_ok = True
    print(
        f"{'case':<18} {'alg':<5} {'IQM ours':>9} {'IQM rliable':>11} {'CI ours':>19} "
        f"{'CI rliable':>19} "
        f"{'max|diff|':>9} {'noise sd':>8} {'%width':>7}  ok"
    )
    for case, (runs, tasks) in cases.items():
        score_dict = {
            name: gen.normal(
                loc=shift + np.arange(tasks), scale=1.0 + 0.5 * np.arange(tasks), size=(runs, tasks)
            )
            for name, shift in (("A", 0.0), ("B", 0.7))
        }
        x, strata, algs = to_columns(score_dict)
        ours_iqm = stats.iqm(x)
        rl_point, rl_ci = library.get_interval_estimates(
            score_dict,
            lambda s: np.array([metrics.aggregate_iqm(s)]),
            reps=reps,
            method="percentile",
            random_state=np.random.RandomState(1),
        )
        ours = [
            stats.bootstrap_ci(
                x,
                "iqm",
                np.random.default_rng(100 + k),
                method="percentile",
                n_resamples=reps,
                strata=strata,
            )
            for k in range(n_repeat)
        ]
        lo = np.array([r[0] for r in ours])
        hi = np.array([r[1] for r in ours])
        for j, a in enumerate(algs):
            rl_lo, rl_hi = float(rl_ci[a][0, 0]), float(rl_ci[a][1, 0])
            d_iqm = abs(ours_iqm[j] - float(rl_point[a][0]))
            worst_iqm = max(worst_iqm, d_iqm)
            diff = max(abs(lo[0, j] - rl_lo), abs(hi[0, j] - rl_hi))
            sd = max(lo[:, j].std(ddof=1), hi[:, j].std(ddof=1))
            width = rl_hi - rl_lo
            ok = d_iqm < 1e-12 and (diff <= 4 * np.sqrt(2) * sd or diff <= 0.01 * width)
            all_ok &= bool(ok)
            print(
                f"{case:<18} {a:<5} {ours_iqm[j]:>9.4f} {float(rl_point[a][0]):>11.4f} "
                f"[{lo[0, j]:>7.4f}, {hi[0, j]:>7.4f}] [{rl_lo:>7.4f}, {rl_hi:>7.4f}] "
                f"{diff:>9.4f} {sd:>8.4f} {100 * diff / width:>6.2f}%  {'yes' if ok else 'NO'}"
            )
    worst_profile = _check_profiles(gen, library, metrics)
    all_ok &= worst_profile < 1e-12
    # probability of improvement: rliable's is unpaired, ours is paired over seeds
    runs = 10
    sd = {"A": gen.normal(1.0, 1.0, size=(runs, 1)), "B": gen.normal(0.0, 1.0, size=(runs, 1))}
    rl_poi = float(metrics.probability_of_improvement(sd["A"], sd["B"]))
    ours_poi = stats.prob_improvement(sd["A"][:, 0], sd["B"][:, 0])
    print(
        f"\nprobability of improvement A over B (10 runs, 1 task): rliable (unpaired, all run "
        f"pairs) "
        f"{rl_poi:.3f}; ours (paired by seed) {ours_poi:.3f} -- different definitions, not "
        f"expected to match"
    )
    print(
        f"RLIABLE CHECK: IQM max |diff| {worst_iqm:.1e}; optimality gap and performance "
        f"profile max |diff| {worst_profile:.1e}; percentile CI endpoints "
        f"{'agree within bootstrap noise' if all_ok else 'DISAGREE'} ({reps} resamples; "
        f"stratified over tasks where tasks > 1): {'PASS' if all_ok else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

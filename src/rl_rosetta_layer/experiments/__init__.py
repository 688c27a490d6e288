"""Experiments: runs as data, executed locally, in worker processes or on Ray, saved per run.

Names are imported on first use, so a worker process that only trains does not pay for
the statistics stack (scipy) that the summary files need.
"""

from importlib import import_module

_WHERE = {
    "RETURNS_COLUMNS": "outputs", "SEED_SUMMARY_COLUMNS": "outputs",
    "SUMMARY_COLUMNS": "outputs", "final_matrix": "outputs", "summary_rows": "outputs",
    "write_experiment_outputs": "outputs", "write_run": "outputs", "load_run": "outputs",
    "run_all": "runner", "train_unit": "runner", "EnvSpec": "spec", "RunSpec": "spec",
    "RunStore": "store", "Sweep": "sweep", "load_sweep": "sweep", "run_sweep": "train",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_WHERE))

"""Experiments: runs as data, executed locally or in worker processes, saved per run."""

from .outputs import (
                      RETURNS_COLUMNS,
                      SEED_SUMMARY_COLUMNS,
                      SUMMARY_COLUMNS,
                      final_matrix,
                      summary_rows,
                      write_experiment_outputs,
                      write_run,
)
from .runner import run_all, train_unit
from .spec import EnvSpec, RunSpec

__all__ = ["RETURNS_COLUMNS", "SEED_SUMMARY_COLUMNS", "SUMMARY_COLUMNS", "EnvSpec", "RunSpec",
           "final_matrix", "run_all", "summary_rows", "train_unit", "write_experiment_outputs",
           "write_run"]

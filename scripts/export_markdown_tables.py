"""Write outputs/experiment_summary_table.md and the statistics: wraps `rosetta report`."""

from _wrap import run

if __name__ == "__main__":
    run("report")

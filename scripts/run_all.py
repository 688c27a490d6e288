"""Analysis, then experiments, then the report. Thin wrapper over `rosetta run`."""

from _wrap import run

if __name__ == "__main__":
    run("run")

"""Train the DQN on every candidate layer and seed. Thin wrapper over `rosetta train`."""

from _wrap import run

if __name__ == "__main__":
    run("train")

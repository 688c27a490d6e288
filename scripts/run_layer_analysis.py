"""Score the candidate layers and write outputs/selected_layer.txt. Thin wrapper over `rosetta analyze`."""

from _wrap import run

if __name__ == "__main__":
    run("analyze")

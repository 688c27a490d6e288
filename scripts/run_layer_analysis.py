"""Score the candidate layers, write outputs/selected_layer.txt: wraps `rosetta analyze`."""

from _wrap import run

if __name__ == "__main__":
    run("analyze")

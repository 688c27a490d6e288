"""rosetta from a notebook: analyse, train and report from Python, then read the results.

Run it as a script (``python examples/notebook.py [OUTPUT_DIR]``) or paste the cells into
a notebook. It uses tiny budgets so it finishes in a minute; drop ``SMALL`` for the real
thing. Every call writes what the matching ``rosetta`` command writes, into the same run
store, and raises the error the command would print.
"""

# %% Setup
import sys
import tempfile
from pathlib import Path

import rl_rosetta_layer as rr
from rl_rosetta_layer.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]        # in a notebook: the repository's folder
sys.path.append(str(ROOT))                        # so that examples.my_layer imports
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "notebook"
SMALL = {"grid_size": 4, "quiet": True}
layers = ["structured_mid", "identity", "examples.my_layer:make_layer"]   # one of your own

# %% Score the layers before any RL (rosetta analyze)
selected = rr.analyze(out, layers=layers, dataset_steps=400, bootstrap=20, **SMALL)
print("selected:", selected)

# %% Train the DQN on every (layer, seed) (rosetta train); a rerun trains only what is new
training = rr.train(out, layers=layers, seeds=[0, 1], episodes=8,
                    settings={"learning_starts": 20}, workers=1, **SMALL)
print(training.table(), end="")
assert training.exit_status == 0, training.warnings()

# %% Tables, paired statistics and figures (rosetta report)
report = rr.report(out)
print(*(f"wrote {path}" for path in report.written), sep="\n")

# %% The outputs as tidy tables (pandas DataFrames when pandas is installed)
results = rr.load(out)
print("summary columns:", list(results.summary.keys())[:6])
print("episodes recorded:", len(results.returns["return"]))

# %% Scores as rliable takes them: {layer: (runs, tasks)}
scores = rr.to_rliable(out)
for layer, x in scores.items():
    print(f"{layer}: {x.shape[0]} runs x {x.shape[1]} task(s), mean {x.mean():.3f}")
# from rliable import library, metrics
# library.get_interval_estimates(scores, lambda x: [metrics.aggregate_iqm(x)], reps=2000)

# %% Bad input raises the error the command line prints
try:
    rr.train(out, layers="no_such_layer", seeds=[0], **SMALL)
except ConfigError as exc:
    print("refused:", str(exc)[:60], "...")

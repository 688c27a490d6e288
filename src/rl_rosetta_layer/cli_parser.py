"""The ``rosetta`` command's parser: every subcommand's flags, their defaults taken from
the dataclasses and functions that define the settings (never a copy).

Split from :mod:`.cli` (which runs the commands); ``rl_rosetta_layer.cli.build_parser`` is
this module's.
"""

from __future__ import annotations

import argparse
import inspect
import math
from dataclasses import fields
from pathlib import Path

from .agent.config import DQNConfig
from .analysis.run import run_analysis
from .api import DEFAULT_OUT
from .envs.grid import GridConfig
from .envs.registry import ENV_NAMES
from .experiments.spec import DEFAULT_SEEDS

#: What ``rosetta --help`` says above the list of commands.
DESCRIPTION = ("Which frozen layer of a pretrained video model makes the best reinforcement-"
               "learning representation: score candidate layers cheaply, train the same DQN "
               "on each, compare with paired statistics.")
#: What ``rosetta --help`` says below the list of commands.
EPILOG = """\
the seed's Run Order:
  rosetta analyze --dataset-steps 8000 --seed 0
  rosetta train --episodes 350 --seeds 0,1,2
  rosetta report
or all three: rosetta run; each command's flags: rosetta COMMAND --help"""
ENV_HELP = ", ".join(ENV_NAMES)
#: Per subcommand: (one line for the command list, a description, an example).
COMMANDS = {
    "analyze": ("score candidate layers and select one",
                "Collect random-policy transitions, probe every candidate layer (reward, "
                "transition, value and state probes, effective rank) with bootstrap CIs, and "
                "write layer_analysis.csv and selected_layer.txt.",
                "rosetta analyze --dataset-steps 8000 --seed 0 --layers candidates,identity"),
    "train": ("train the DQN on every (layer, seed)",
              "Train the same DQN on every (layer, seed) with identical budgets; each finished "
              "run is stored under OUTPUT_DIR/runs and never trained again, so a rerun "
              "resumes. Writes experiment_returns.csv, experiment_runs.csv and "
              "experiment_summary.csv.",
              "rosetta train --episodes 350 --seeds 0-4 --layers candidates,identity"),
    "pretrain": ("pretrain the tiny-video model on sprite videos (the video extra)",
                 "Pretrain the tiny-video model on procedural sprite videos and write its "
                 "checkpoint; an existing checkpoint is replaced only with --force.",
                 "rosetta pretrain --output checkpoints/tiny-video --steps 2000"),
    "report": ("tables, statistics and figures from existing outputs",
               "Markdown tables, paired comparisons, score validity and figures from the "
               "files analyze and train wrote; every input is checked before any write.",
               "rosetta report --output-dir outputs"),
    "paper": ("the report, then paper/paper.md from the template",
              "Run the report, then write the paper from its template, refusing when a "
              "placeholder, an unsourced number or an unknown citation remains.",
              "rosetta paper --output-dir outputs --paper paper/paper.md"),
    "run": ("analyze, then train, then report",
            "The whole pipeline: analyze (the layers it trains, unless --analysis-layers "
            "names others), train, report (training flags are checked before the analysis "
            "writes anything; an analysis of other layers already there is replaced only "
            "with --replace-analysis).",
            "rosetta run --dataset-steps 8000 --episodes 350 --seeds 0,1,2"),
    "sweep": ("run a grid of runs from a sweep file or flags; resumes",
              "A grid of runs from a TOML sweep file (or a built-in one, or flags; a comma "
              "list makes a grid axis); finished runs are skipped, failed ones retried. "
              "Tables, with a summary per setting, go to OUTPUT_DIR/sweeps/NAME.",
              "rosetta sweep tiny --dry-run\n"
              "  rosetta sweep --layers structured_mid,identity --seeds 0-2 "
              "--set lr=0.001,0.003"),
    "study": ("a backbone's blocks, their twins, stacks, controls and baselines on several "
              "tasks: analysis, RL, statistics, paper section (resumes)",
              "Does a pretrained block beat its random twin? The analysis and RL of a "
              "backbone's blocks, their random twins, stacks of blocks, controls, synthetic "
              "layers and baselines on several tasks, then statistics and study.md.",
              "rosetta study --envs catch --seeds 0-4 --env-steps 20000"),
    "evaluate": ("play the last evaluation checkpoint of every stored run again",
                 "Load the final network every finished run in OUTPUT_DIR/runs saved, play "
                 "its last evaluation checkpoint again (the same episodes and exploration "
                 "draws: the same numbers) or a new evaluation (--episodes, --epsilon), and "
                 "write OUTPUT_DIR/reevaluation.csv. Runs need eval_checkpoints.",
                 "rosetta evaluate outputs/tiny-video/moving-goal --episodes 200"),
    "tensorboard": ("TensorBoard logs of every finished run in a folder",
                    "Write the TensorBoard log of every finished run in OUTPUT_DIR/runs "
                    "that has none (episode returns, lengths, successes, run health, "
                    "gradient norms) to OUTPUT_DIR/tensorboard; --tensorboard on train, run "
                    "and sweep writes them as runs train, with loss, Q, epsilon and steps "
                    "per second (the tensorboard extra).",
                    "rosetta tensorboard outputs && tensorboard --logdir outputs/tensorboard"),
}


def _plain(text: str) -> str:
    """Help text without reStructuredText backticks (``x`` -> x): some of it comes from
    docstrings."""
    return text.replace("``", "").replace("`", "")


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` as plain text: every flag's default shown (unless its help already says
    it, or there is none to show), a description filled to the terminal's width, examples
    (text of several lines) laid out as written, no backticks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text or action.default in (None, False, [], argparse.SUPPRESS)
                or action.nargs == 0):
            return text
        return f"{text} (default: %(default)s)"

    def _split_lines(self, text: str, width: int) -> list[str]:
        return super()._split_lines(_plain(text), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        text = _plain(text)
        if "\n" in text:                  # laid out by hand: examples
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line without the usage block, and help is laid out
    by :class:`HelpFormatter`."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _output_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-dir", default=None, type=Path,
                   help="folder for every output file (default: outputs, or "
                        "outputs/BACKBONE with --backbone)")
    p.add_argument("--backbone", default=None, metavar="NAME",
                   help="a video backbone (e.g. tiny-video, cogvideox-2b, wan2.1-t2v-1.3b, "
                        "ltx-video, cosmos-predict2-2b, vjepa2-vitl; all in "
                        "docs/video-backbones.md): its blocks are the 'blocks' / 'twins' layer "
                        "groups and outputs go to outputs/NAME")


def default(cls, name: str):
    """The default of field ``name`` of dataclass ``cls`` (or its value in the instance
    ``cls``): flags take their defaults from the dataclasses that define the settings,
    never a copy."""
    if not isinstance(cls, type):
        return getattr(cls, name)
    return next(f.default for f in fields(cls) if f.name == name)


def default_args(function) -> dict:
    """The defaults of ``function``'s keyword arguments (the analysis' own, for its flags)."""
    return {k: v.default for k, v in inspect.signature(function).parameters.items()}


def _video_args(parser: argparse.ArgumentParser, defaults=None) -> None:
    """The video flags, in a group of their own: ``--help`` lists them after the others.
    Their defaults are ``defaults``' (a ``VideoSettings``; the study has its own), else the
    dataclass's."""
    from .video.candidates.settings import VideoSettings

    V = defaults if defaults is not None else VideoSettings

    p = parser.add_argument_group("video blocks (the video extra)",
                                  "how a video backbone's blocks are loaded and run")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="checkpoint folder or Hugging Face cache path of the backbone "
                        "(default: the backbone's own, for tiny-video)")
    p.add_argument("--timestep", type=_nonneg_int, default=default(V, "timestep"),
                   help="diffusion timestep of a video block's fixed conditioning (0-999)")
    p.add_argument("--device", default=default(V, "device"),
                   help="cpu, cuda, cuda:N or auto (video blocks)")
    p.add_argument("--dtype", default=default(V, "dtype"),
                   help="float32 or bfloat16 (video blocks)")
    p.add_argument("--patch", type=_positive_int, default=default(V, "patch"),
                   help="side of the frame patch that becomes one token (video blocks)")
    norm = default(V, "feature_norm")
    p.add_argument("--feature-norm", default=norm,
                   help=f"none; running: the RL head reads the read-out's values "
                        f"standardised with running statistics; tokens: the read-out reads "
                        f"the block's tokens standardised with running statistics (video "
                        f"blocks; default: {norm})")
    p.add_argument("--readout", default=default(V, "readout"),
                   help="how a video block's tokens reach the head: project (default), "
                        "attention, flatten or mean")
    p.add_argument("--readout-dim", type=_positive_int, default=default(V, "readout_dim"),
                   help="values per token of the 'project' read-out")
    p.add_argument("--learner", default=default(V, "learner"),
                   help="numpy: the numpy learner trains a block's read-out and head on "
                        "stored codes where it can (a frozen input adapter and a project, "
                        "flatten or mean read-out); torch: always the torch "
                        "learner (the first numerics). A run id says which trained it")


def _common(p: argparse.ArgumentParser) -> None:
    from .experiments.spec import EnvSpec

    _output_dir(p)
    env = default(EnvSpec, "name")
    p.add_argument("--env", default=env, metavar="NAME",
                   help=f"environment: {ENV_HELP} (default: {env})")
    _task_size_args(p)
    p.add_argument("--max-steps", type=_positive_int, default=None,
                   help=f"episode step limit (default: {GridConfig.max_steps} on the grid, "
                        f"else the environment's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _task_size_args(p: argparse.ArgumentParser) -> None:
    from .experiments.spec import EnvSpec

    p.add_argument("--grid-size", type=_positive_int, default=default(EnvSpec, "grid_size"),
                   help="side of the grid-format tasks")
    p.add_argument("--history", type=_positive_int, default=default(EnvSpec, "history"),
                   help="frames per observation")


def _analysis_args(p: argparse.ArgumentParser, only: bool = False) -> None:
    """Flags of the layer analysis; ``only``: the command does nothing else, so --layers
    is accepted for --analysis-layers (``run`` keeps --layers for the trained layers)."""
    analysis = default_args(run_analysis)
    p.add_argument("--dataset-steps", type=_positive_int, default=analysis["dataset_steps"],
                   help="random-policy transitions to collect")
    p.add_argument("--seed", type=_nonneg_int, default=analysis["seed"],
                   help="seed of the dataset")
    p.add_argument(*(("--analysis-layers", "--layers") if only else ("--analysis-layers",)),
                   dest="analysis_layers", default=None,
                   help="layers to score (names or groups: candidates (default), baselines, "
                        "bank, all; with --backbone: blocks (default), twins)" + (
                        "" if only else "; default for run: the --layers it trains, with "
                        "the default group when they name selected or the bank"))
    p.add_argument("--replace-analysis", action="store_true",
                   help="replace an analysis of other layers or settings already in the "
                        "output folder (without it that is refused, naming what is there)")
    p.add_argument("--select-by", default=analysis["select_by"],
                   help="score that picks selected_layer.txt (default: the seed's composite)")
    p.add_argument("--bootstrap", type=_positive_int, default=analysis["n_bootstrap"],
                   help="bootstrap resamples behind each score's CI")


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--episodes", type=_positive_int, default=default(DQNConfig, "episodes"),
                   help="episodes per run")
    p.add_argument("--env-steps", type=_positive_int, default=None,
                   help="env steps per run: the budget instead of --episodes when given "
                        "(--episodes is then ignored, and left out of the run id)")
    p.add_argument("--seeds", default=DEFAULT_SEEDS, help="comma list (or ranges like 0-9)")
    p.add_argument("--batch-size", type=_positive_int, default=default(DQNConfig, "batch_size"),
                   help="transitions per update")
    p.add_argument("--layers", default=None,
                   help="comma list of layers or groups: candidates (default), baselines, "
                        "bank, all, selected; with --backbone: blocks (default), twins, "
                        "BACKBONE:BLOCK[:random]")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes (default: one per core)")
    _lockstep_arg(p)
    _tensorboard_arg(p)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any DQN setting, e.g. --set lr=0.001 (repeatable)")
    _run_timeout_arg(p)
    _executor_args(p)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _run_timeout_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run-timeout", type=_positive_seconds, default=None, metavar="SECONDS",
                   help="stop a run still training after SECONDS (seeds trained together "
                        "share one clock): it fails like a run that raised (runs/_failed/, "
                        "exit status 3) and the others go on (default: no limit)")


def _lockstep_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lockstep", type=_positive_int, default=None,
                   help="seeds of one layer trained together in one process (default: all "
                        "of them, split only to keep every worker busy; the same numbers as "
                        "alone)")


def _tensorboard_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tensorboard", action="store_true",
                   help="also write each run's TensorBoard log to OUTPUT_DIR/tensorboard "
                        "as it trains: episodes, health checks, loss, Q, epsilon, steps per "
                        "second (the tensorboard extra)")


def _executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local worker processes (default) or Ray")
    p.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help="an existing Ray cluster (e.g. auto, or ray://head:10001); without "
                        "it --executor ray starts a local Ray instance")


def _sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", nargs="?", default=None,
                   help="a TOML sweep file or a built-in sweep (tiny); without it the grid "
                        "comes from the flags")
    p.add_argument("--output-dir", default=DEFAULT_OUT, type=Path,
                   help="folder for every output file (default: outputs)")
    p.add_argument("--layers", default=None, help="layers or groups (comma list)")
    p.add_argument("--seeds", default=None, help="comma list or ranges like 0-9")
    p.add_argument("--episodes", default=None, help="episodes per run (comma list: a grid)")
    p.add_argument("--env-steps", default=None,
                   help="env steps per run, the budget instead of --episodes (comma list)")
    p.add_argument("--batch-size", default=None, help="transitions per update (comma list)")
    p.add_argument("--env", default=None, help="environment name (comma list)")
    p.add_argument("--grid-size", default=None, help="side of the grid (comma list)")
    p.add_argument("--history", default=None, help="frames per observation (comma list)")
    p.add_argument("--max-steps", default=None, help="episode step limit (comma list)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=V[,V...]",
                   help="any DQN setting; a comma list makes it a grid axis (repeatable)")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes or Ray CPUs (default: one per core)")
    _lockstep_arg(p)
    _tensorboard_arg(p)
    _run_timeout_arg(p)
    _executor_args(p)
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs, the settings that vary and which runs are finished; "
                        "train nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bars (for logs)")


def _subcommand(sub, name: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``, with its line, description and example
    (:data:`COMMANDS`)."""
    line, description, example = COMMANDS[name]
    return sub.add_parser(name, help=line, description=description,
                          epilog=f"example:\n  {example}")


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = OneLineParser(prog="rosetta", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser,
                                title="commands", metavar="COMMAND")
    p = _subcommand(sub, "analyze")
    _common(p)
    _analysis_args(p, only=True)
    _video_args(p)
    p = _subcommand(sub, "train")
    _common(p)
    _train_args(p)
    _video_args(p)
    p = _subcommand(sub, "pretrain")
    from .video.tiny import command as pretrain_command

    pretrain_command.configure_parser(p)
    p = _subcommand(sub, "report")
    _output_dir(p)
    p = _subcommand(sub, "paper")
    _output_dir(p)
    p.add_argument("--paper", default=Path("paper") / "paper.md", type=Path,
                   help="where to write the paper (default: paper/paper.md)")
    p.add_argument("--template", default=None, type=Path,
                   help="paper template (default: paper/dummy_paper.md of this package's "
                        "source tree, else of the working folder)")
    p.add_argument("--bib", default=None, type=Path,
                   help="bibliography (default: paper/references.bib, found as --template)")
    p.add_argument("--skip-report", action="store_true",
                   help="use the report files as they are instead of regenerating them")
    p = _subcommand(sub, "run")
    _common(p)
    _analysis_args(p)
    _train_args(p)
    _video_args(p)
    p = _subcommand(sub, "sweep")
    _sweep_args(p)
    p = _subcommand(sub, "study")
    _study_args(p)
    p = _subcommand(sub, "evaluate")
    p.add_argument("output_dir", nargs="?", default=Path(DEFAULT_OUT), type=Path,
                   help="the folder whose runs/ to evaluate (default: outputs)")
    p.add_argument("--episodes", type=_positive_int, default=None,
                   help="episodes to play (default: each run's eval_episodes)")
    p.add_argument("--epsilon", type=_probability, default=None,
                   help="exploration rate of the evaluation policy (default: each run's "
                        "eval_epsilon)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = _subcommand(sub, "tensorboard")
    p.add_argument("output_dir", nargs="?", default=Path(DEFAULT_OUT), type=Path,
                   help="the folder whose runs/ to read (default: outputs)")
    return parser


def _study_args(p: argparse.ArgumentParser) -> None:
    from .experiments import study_defaults as study

    cfg = study.STUDY_CONFIG
    p.add_argument("--output-dir", default=None, type=Path,
                   help="folder of the study (default: outputs/BACKBONE)")
    p.add_argument("--backbone", default=study.DEFAULT_BACKBONE, metavar="NAME",
                   help=f"the video backbone (default: {study.DEFAULT_BACKBONE})")
    envs = ",".join(study.DEFAULT_ENVS)
    p.add_argument("--envs", default=envs,
                   help=f"comma list of grid-format tasks: grid, moving-goal, catch "
                        f"(default: {envs})")
    _task_size_args(p)
    p.add_argument("--layers", default=study.DEFAULT_LAYERS,
                   help=f"layers or groups (default: {study.DEFAULT_LAYERS})")
    seeds = f"{study.DEFAULT_SEEDS[0]}-{study.DEFAULT_SEEDS[-1]}"
    p.add_argument("--seeds", default=seeds, help=f"comma list or ranges (default: {seeds})")
    budgets = ", ".join(f"{k} {v:,}" for k, v in study.TASK_BUDGETS.items())
    p.add_argument("--env-steps", type=_positive_int, default=None,
                   help=f"env steps per run on every task (default: each task's budget by "
                        f"the budget rule, docs/budget-rule.md: {budgets}; other tasks "
                        f"{cfg.env_steps:,})")
    p.add_argument("--batch-size", type=_positive_int, default=cfg.batch_size,
                   help=f"transitions per update (default: {cfg.batch_size})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other DQN setting, e.g. --set lr=0.001 (repeatable)")
    p.add_argument("--dataset-steps", type=_positive_int, default=study.DEFAULT_DATASET_STEPS,
                   help=f"random-policy transitions per task for the analysis (default: "
                        f"{study.DEFAULT_DATASET_STEPS})")
    p.add_argument("--bootstrap", type=_positive_int,
                   default=default_args(run_analysis)["n_bootstrap"],
                   help="bootstrap resamples behind each analysis score's CI")
    p.add_argument("--select-by", default=study.DEFAULT_SELECT_BY,
                   help=f"the analysis score that selects each task's layer (default: "
                        f"{study.DEFAULT_SELECT_BY}, chosen by docs/selection-rule.md); any "
                        f"probe column of layer_analysis.csv")
    p.add_argument("--task-episodes", type=_positive_int, default=study.TASK_EPISODES,
                   help="episodes per policy behind the random and reference returns")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes (default: one per core)")
    p.add_argument("--lockstep", type=_positive_int, default=None,
                   help="seeds of a layer trained together in one worker (default: all; the "
                        "same numbers as alone)")
    _run_timeout_arg(p)
    p.add_argument("--report-only", action="store_true",
                   help="redo the study's statistics, figures and study.md from its files")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _video_args(p, study.STUDY_VIDEO)

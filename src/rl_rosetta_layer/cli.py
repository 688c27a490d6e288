"""The ``rosetta`` command: analyze | train | report | paper | run | sweep | pretrain | study.

Bad input prints one line (``rosetta: error: ...``) and exits with status 2; nothing
already written is changed. A command some of whose runs raised exits with 3 (and writes no
table when all did), one whose runs only diverged with 4; an interrupt exits with 130.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from dataclasses import fields, replace
from pathlib import Path

from threadpoolctl import threadpool_limits

from .agent.config import DQNConfig
from .analysis.run import run_analysis
from .envs.registry import ENV_NAMES
from .errors import RosettaError
from .experiments.sweep_cli import parse_bool as _bool
from .io import check_writable

DEFAULT_OUT = "outputs"
ENV_HELP = ", ".join(ENV_NAMES)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line without the usage block."""

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
                   help="a video backbone (e.g. tiny-video, cogvideox-2b): its blocks are the "
                        "'blocks' / 'twins' layer groups and outputs go to outputs/NAME")


def default(cls: type, name: str):
    """The default of field ``name`` of dataclass ``cls``: flags take their defaults from
    the dataclasses that define the settings, never a copy."""
    return next(f.default for f in fields(cls) if f.name == name)


def default_args(function) -> dict:
    """The defaults of ``function``'s keyword arguments (the analysis' own, for its flags)."""
    return {k: v.default for k, v in inspect.signature(function).parameters.items()}


def _video_args(p: argparse.ArgumentParser) -> None:
    from .layers.video import VideoSettings as V

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
    p.add_argument("--feature-norm", default=default(V, "feature_norm"),
                   help="none, or running: the RL head reads the read-out's values "
                        "standardised with running statistics (video blocks)")
    p.add_argument("--readout", default=default(V, "readout"),
                   help="how a video block's tokens reach the head: project (default), "
                        "attention, flatten or mean")
    p.add_argument("--readout-dim", type=_positive_int, default=default(V, "readout_dim"),
                   help="values per token of the 'project' read-out")


def _common(p: argparse.ArgumentParser) -> None:
    from .experiments.spec import EnvSpec

    _output_dir(p)
    _video_args(p)
    env = default(EnvSpec, "name")
    p.add_argument("--env", default=env, metavar="NAME",
                   help=f"environment: {ENV_HELP} (default: {env})")
    _task_size_args(p)
    p.add_argument("--max-steps", type=_positive_int, default=None,
                   help="episode step limit (default: 60 on the grid, else the environment's)")
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
                        "bank, all; with --backbone: blocks (default), twins)")
    p.add_argument("--select-by", default=analysis["select_by"],
                   help="score that picks selected_layer.txt (default: the seed's composite)")
    p.add_argument("--bootstrap", type=_positive_int, default=analysis["n_bootstrap"],
                   help="bootstrap resamples behind each score's CI")


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--episodes", type=_positive_int, default=default(DQNConfig, "episodes"),
                   help="episodes per run")
    p.add_argument("--env-steps", type=_positive_int, default=None,
                   help="env steps per run: the budget instead of --episodes when given")
    p.add_argument("--seeds", default="0,1,2", help="comma list (or ranges like 0-9)")
    p.add_argument("--batch-size", type=_positive_int, default=default(DQNConfig, "batch_size"),
                   help="transitions per update")
    p.add_argument("--layers", default=None,
                   help="comma list of layers or groups: candidates (default), baselines, "
                        "bank, all, selected; with --backbone: blocks (default), twins, "
                        "BACKBONE:BLOCK[:random]")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes (default: one per core)")
    p.add_argument("--lockstep", type=_positive_int, default=1,
                   help="seeds of one layer trained together in one process")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any DQN setting, e.g. --set lr=0.001 (repeatable)")
    _executor_args(p)


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
    p.add_argument("--batch-size", default=None, help="transitions per update (comma list)")
    p.add_argument("--env", default=None, help="environment name (comma list)")
    p.add_argument("--grid-size", default=None, help="side of the grid (comma list)")
    p.add_argument("--history", default=None, help="frames per observation (comma list)")
    p.add_argument("--max-steps", default=None, help="episode step limit (comma list)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=V[,V...]",
                   help="any DQN setting; a comma list makes it a grid axis (repeatable)")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes or Ray CPUs (default: one per core)")
    p.add_argument("--lockstep", type=_positive_int, default=1,
                   help="seeds of one layer trained together in one process")
    _executor_args(p)
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs and which are finished; train nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bars (for logs)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rosetta", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    p = sub.add_parser("analyze", help="score candidate layers and select one")
    _common(p)
    _analysis_args(p, only=True)
    p = sub.add_parser("train", help="train the DQN on every (layer, seed)")
    _common(p)
    _train_args(p)
    p = sub.add_parser("pretrain", help="pretrain the tiny-video model on sprite videos "
                                        "(the video extra)")
    from .video import pretrain_command

    pretrain_command.configure_parser(p)
    p = sub.add_parser("report", help="tables, statistics and figures from existing outputs")
    _output_dir(p)
    p = sub.add_parser("paper", help="the report, then paper/paper.md from the template")
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
    p = sub.add_parser("run", help="analyze, then train, then report")
    _common(p)
    _analysis_args(p)
    _train_args(p)
    p = sub.add_parser("sweep", help="run a grid of runs from a sweep file or flags; resumes")
    _sweep_args(p)
    p = sub.add_parser("study", help="a backbone's blocks, their random twins, synthetic "
                                     "layers and baselines on several tasks: analysis, RL, "
                                     "statistics, paper section (resumes)")
    _study_args(p)
    return parser


def _study_args(p: argparse.ArgumentParser) -> None:
    from .experiments import study

    cfg = study.STUDY_CONFIG
    p.add_argument("--output-dir", default=None, type=Path,
                   help="folder of the study (default: outputs/BACKBONE)")
    p.add_argument("--backbone", default=study.DEFAULT_BACKBONE, metavar="NAME",
                   help=f"the video backbone (default: {study.DEFAULT_BACKBONE})")
    _video_args(p)
    envs = ",".join(study.DEFAULT_ENVS)
    p.add_argument("--envs", default=envs,
                   help=f"comma list of grid-format tasks: grid, moving-goal, catch "
                        f"(default: {envs})")
    _task_size_args(p)
    p.add_argument("--layers", default=study.DEFAULT_LAYERS,
                   help=f"layers or groups (default: {study.DEFAULT_LAYERS})")
    seeds = f"{study.DEFAULT_SEEDS[0]}-{study.DEFAULT_SEEDS[-1]}"
    p.add_argument("--seeds", default=seeds, help=f"comma list or ranges (default: {seeds})")
    p.add_argument("--env-steps", type=_positive_int, default=cfg.env_steps,
                   help=f"env steps per run (default: {cfg.env_steps})")
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
    p.add_argument("--task-episodes", type=_positive_int, default=study.TASK_EPISODES,
                   help="episodes per policy behind the random and reference returns")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help="worker processes (default: one per core)")
    p.add_argument("--lockstep", type=_positive_int, default=None,
                   help="seeds of a layer trained together in one worker (default: all; the "
                        "same numbers as alone)")
    p.add_argument("--report-only", action="store_true",
                   help="redo the study's statistics, figures and study.md from its files")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def dqn_config(args: argparse.Namespace, base: DQNConfig | None = None) -> DQNConfig:
    """The DQN config from --episodes (or --env-steps), --batch-size and --set KEY=VALUE,
    over ``base`` (default: the project's defaults)."""
    from .errors import ConfigError
    from .experiments.sweep import DQN_TYPES as types

    values: dict = {"batch_size": args.batch_size, "env_steps": args.env_steps}
    if hasattr(args, "episodes"):
        values["episodes"] = args.episodes
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or key not in types:
            raise ConfigError(f"--set expects KEY=VALUE with KEY one of {sorted(types)}, "
                              f"got {item!r}")
        kind = {"int": int, "float": float, "str": str, "bool": _bool}[types[key]]
        try:
            values[key] = kind(text)
        except ValueError as exc:
            raise ConfigError(f"--set {key}: {text!r} is not a valid {types[key]}") from exc
    return replace(base or DQNConfig(), **values)


def cmd_analyze(args) -> None:
    selected = run_analysis(args.output_dir, _env_spec(args), dataset_steps=args.dataset_steps,
                            seed=args.seed, layers=args.analysis_layers,
                            select_by=args.select_by, n_bootstrap=args.bootstrap,
                            quiet=args.quiet, backbone=args.backbone,
                            video=_video_settings(args))
    print(f"selected layer: {selected} (written to {args.output_dir / 'selected_layer.txt'})")


def check_training_flags(args):
    """(DQN config, seeds) of ``train`` (and ``run``): every training flag checked before
    any step writes a file (``run``'s analysis comes first)."""
    from .errors import ConfigError
    from .experiments.spec import parse_seeds
    from .layers.registry import expand_layer_names

    config, seeds = dqn_config(args), parse_seeds(args.seeds)
    named = ",".join(p for p in str(args.layers).split(",") if p.strip() != "selected")
    if named or not args.layers:       # 'selected' alone is known only after the analysis
        expand_layer_names(named, backbone=args.backbone, weights=args.weights)
    if args.ray_address is not None:
        if args.executor != "ray":
            raise ConfigError("--ray-address needs --executor ray")
        from .experiments.ray_executor import check_reachable

        check_reachable(args.ray_address)
    return config, seeds


def cmd_train(args) -> int:
    from .experiments.train import run_experiments
    from .report.markdown import markdown_table

    config, seeds = check_training_flags(args)
    summary, outcome = run_experiments(
        args.output_dir, _env_spec(args), config, seeds, layers=args.layers,
        workers=args.workers, lockstep=args.lockstep, quiet=args.quiet, executor=args.executor,
        ray_address=args.ray_address, backbone=args.backbone, video=_video_settings(args))
    print(markdown_table(summary, ["layer", "mean_last_50", "std_last_50", "mean_auc",
                                   "success_last_50", "runs_not_ok", "runs_flagged"]), end="")
    for kind, runs in (("failed", outcome.failed), ("diverged", outcome.diverged)):
        if runs:
            print(f"warning: {len(runs)} of {len(outcome.results)} runs {kind}: "
                  f"{', '.join(sorted({r.layer for r in runs}))}; see "
                  f"{args.output_dir / 'experiment_runs.csv'} (status column)"
                  + (f" and {args.output_dir / 'runs' / '_failed'}" if kind == "failed" else ""),
                  file=sys.stderr)
    flagged = [f"{row['layer']} ({row['flags']})" for row in summary if row["runs_flagged"]]
    if flagged:
        print(f"warning: the run-health check flagged runs of {', '.join(flagged)}: their "
              f"policy is constant or their head saturated, so their returns say nothing "
              f"about the layer; see {args.output_dir / 'experiment_runs.csv'}",
              file=sys.stderr)
    return outcome.exit_status


def cmd_report(args) -> None:
    from .analysis.run import read_selected
    from .errors import MissingInputError
    from .report.build import check_report_inputs, write_report_extras
    from .report.export import export_summary_table, read_summary
    from .report.statistics import final_returns, write_statistics

    check_report_inputs(args.output_dir)      # every input, JSON included, before any write
    summary = read_summary(args.output_dir)
    final = final_returns(args.output_dir)
    try:
        selected = read_selected(args.output_dir)
    except MissingInputError:
        selected = None
    path = export_summary_table(args.output_dir, summary)
    print(f"wrote {path}")
    text, missing = write_statistics(args.output_dir, selected, final)
    print(text, end="")
    written, not_drawn = write_report_extras(args.output_dir, selected)
    for path in written:
        print(f"wrote {path}")
    for line in missing + not_drawn:
        print(f"not computed: {line}")


def cmd_paper(args) -> None:
    from .report.paper import paper_sources, write_paper

    paper_sources(args.template, args.bib)       # a missing file fails before the report
    if not args.skip_report:
        cmd_report(args)
    path = write_paper(args.output_dir, args.paper, args.template, args.bib)
    print(f"wrote {path}")


def cmd_run(args) -> int:
    check_training_flags(args)
    cmd_analyze(args)
    status = cmd_train(args)
    cmd_report(args)
    return status


def cmd_sweep(args) -> int:
    from .experiments.sweep import load_sweep
    from .experiments.sweep_cli import sweep_overrides
    from .experiments.train import run_sweep

    overrides, flags = sweep_overrides(args)
    sweep = load_sweep(args.sweep, out_dir=args.output_dir, overrides=overrides, flags=flags)
    if args.executor != "ray" and args.ray_address is not None:
        from .errors import ConfigError

        raise ConfigError("--ray-address needs --executor ray")
    if args.dry_run:
        from .experiments.store import RunStore

        store = RunStore(args.output_dir / "runs")
        done = sum(store.is_finished(s.run_id) for s in sweep.specs)
        for s in sweep.specs:
            mark = "finished" if store.is_finished(s.run_id) else "to run"
            print(f"{s.run_id}  {mark}")
        print(f"sweep {sweep.name}: {len(sweep.specs)} runs, {done} finished, "
              f"{len(sweep.specs) - done} to run")
        return 0
    outcome, folder = run_sweep(args.output_dir, sweep, workers=args.workers,
                                lockstep=args.lockstep, executor=args.executor,
                                ray_address=args.ray_address, quiet=args.quiet)
    print(f"sweep {sweep.name}: {len(sweep.specs)} runs: {len(outcome.trained)} trained, "
          f"{len(outcome.skipped)} already finished, {len(outcome.failed)} failed, "
          f"{len(outcome.diverged)} diverged; tables in {folder}")
    for r in outcome.failed:
        print(f"failed: {r.extra['run_id']}: {r.error}")
    for r in outcome.diverged:
        print(f"diverged: {r.extra['run_id']}: {r.error}")
    return outcome.exit_status


def cmd_study(args) -> int:
    from .experiments import study
    from .experiments.spec import parse_seeds
    from .report.study import write_study_report, write_study_reports

    plan = study.study_plan(args.output_dir, envs=args.envs, seeds=parse_seeds(args.seeds),
                            layers=args.layers,
                            config=dqn_config(args, study.STUDY_CONFIG),
                            backbone=args.backbone, video=_video_settings(args),
                            dataset_steps=args.dataset_steps, n_bootstrap=args.bootstrap,
                            task_episodes=args.task_episodes, grid_size=args.grid_size,
                            history=args.history)
    status = 0
    if args.report_only:          # the plan the files came from, not this command's flags
        saved = study.read_plan(plan.out_dir)
        write_study_report(plan.out_dir, [e["name"] for e in saved["envs"]], saved)
    else:
        status = study.run_study(plan, write_study_reports, workers=args.workers,
                                 lockstep=args.lockstep, quiet=args.quiet).exit_status
    print((plan.out_dir / "study.md").read_text(encoding="utf-8"), end="")
    print(f"wrote {plan.out_dir / 'study.md'} and the study_*.csv tables beside it")
    return status


def cmd_pretrain(args) -> int:
    from .video import pretrain_command

    return pretrain_command.run(args)


def _video_settings(args):
    from .layers.video import VideoSettings

    return VideoSettings(weights=args.weights, timestep=args.timestep, device=args.device,
                         dtype=args.dtype, patch=args.patch, feature_norm=args.feature_norm,
                         readout=args.readout, readout_dim=args.readout_dim)


def _resolve_defaults(args) -> None:
    """Defaults that depend on --backbone: the output folder and the layer groups."""
    if args.command == "sweep" and not args.dry_run:
        check_writable(args.output_dir)
    if args.command == "paper":
        check_writable(args.paper.parent)
    if args.command in ("sweep", "pretrain"):
        return                       # a sweep's flags left None mean "not overridden"
    backbone = getattr(args, "backbone", None)
    if backbone is not None:
        from .video.backbones import backbone_spec

        backbone_spec(backbone)      # an unknown name fails before anything is written
    if getattr(args, "output_dir", "") is None:
        args.output_dir = Path(DEFAULT_OUT) / backbone if backbone else Path(DEFAULT_OUT)
    for name in ("layers", "analysis_layers"):
        if getattr(args, name, "") is None:
            setattr(args, name, "blocks" if backbone else "candidates")
    weights = getattr(args, "weights", None)
    if weights is not None and not Path(weights).exists():
        from .errors import MissingInputError

        raise MissingInputError(f"--weights {weights} does not exist; give a model folder or "
                                f"a Hugging Face cache path")
    check_writable(args.output_dir)


def _env_spec(args):
    from .experiments.spec import EnvSpec

    return EnvSpec(args.env, args.grid_size, args.history, args.max_steps)


COMMANDS = {"analyze": cmd_analyze, "train": cmd_train, "report": cmd_report, "run": cmd_run,
            "sweep": cmd_sweep, "paper": cmd_paper, "pretrain": cmd_pretrain,
            "study": cmd_study}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # One BLAS thread: two collapse whenever another process shares the cores.
        with threadpool_limits(1):
            _resolve_defaults(args)
            rc = COMMANDS[args.command](args)
    except RosettaError as exc:
        print(f"rosetta: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_status", 2)
    except KeyboardInterrupt:
        print("rosetta: interrupted", file=sys.stderr)
        return 130
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())

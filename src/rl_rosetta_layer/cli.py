"""The ``rosetta`` command: analyze | train | report | paper | run | sweep | pretrain | study |
tensorboard.

Bad input (a full disk included) prints one line (``rosetta: error: ...``) and exits with
status 2; nothing already written is changed. A command some of whose runs raised (or
outlived ``--run-timeout``) exits with 3 (and writes no table when all did), one whose runs
only diverged with 4; an interrupt prints one line, ends the worker processes and exits
with 128 plus the signal's number: 130 for Ctrl-C (SIGINT), 143 for SIGTERM, 129 for
SIGHUP (:mod:`.interrupts`).

``analyze``, ``train``, ``report`` and ``run`` are :mod:`.api`'s functions (what
``import rl_rosetta_layer as rr`` offers) plus printing; the parser is :mod:`.cli_parser`.
"""

from __future__ import annotations

import argparse
import sys

from threadpoolctl import threadpool_limits

from . import api, interrupts
from .agent.config import DQNConfig
from .cli_parser import (  # noqa: F401 - importable from here, as before the split
    DEFAULT_OUT,
    ENV_HELP,
    OneLineParser,
    build_parser,
    default,
    default_args,
)
from .errors import RosettaError
from .experiments.sweep_cli import PARSERS
from .interrupts import interrupt_on_signals
from .io import check_writable


def dqn_config(args: argparse.Namespace, base: DQNConfig | None = None) -> DQNConfig:
    """The DQN config from --episodes (or --env-steps), --batch-size and --set KEY=VALUE,
    over ``base`` (default: the project's defaults)."""
    from .errors import ConfigError
    from .experiments.sweep import DQN_TYPES as types

    values: dict = {}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or key not in types:
            raise ConfigError(f"--set expects KEY=VALUE with KEY one of {sorted(types)}, "
                              f"got {item!r}")
        try:
            values[key] = PARSERS[types[key]](text)
        except ValueError as exc:
            raise ConfigError(f"--set {key}: {text!r} is not a valid {types[key]}") from exc
    return api.dqn_config(base, episodes=getattr(args, "episodes", None),
                          env_steps=args.env_steps, batch_size=args.batch_size,
                          settings=values)


def _env_args(args) -> dict:
    """The environment, backbone, video and progress flags, as :mod:`.api` takes them."""
    return {"env": args.env, "grid_size": args.grid_size, "history": args.history,
            "max_steps": args.max_steps, "backbone": args.backbone,
            "video": _video_settings(args), "quiet": args.quiet}


def _train_args(args) -> dict:
    return {**_env_args(args), "layers": args.layers, "seeds": args.seeds,
            "workers": args.workers, "lockstep": args.lockstep, "executor": args.executor,
            "ray_address": args.ray_address, "config": dqn_config(args),
            "tensorboard": args.tensorboard, "run_timeout": args.run_timeout}


def cmd_analyze(args) -> None:
    selected = api.analyze(args.output_dir, layers=args.analysis_layers,
                           dataset_steps=args.dataset_steps, seed=args.seed,
                           select_by=args.select_by, bootstrap=args.bootstrap,
                           replace_analysis=args.replace_analysis, **_env_args(args))
    print(f"selected layer: {selected} (written to {args.output_dir / 'selected_layer.txt'})")


def check_training_flags(args):
    """(DQN config, seeds) of ``train`` (and ``run``): every training flag checked before
    any step writes a file (``run``'s analysis comes first)."""
    config = dqn_config(args)
    seeds = api.check_training(layers=args.layers, seeds=args.seeds, backbone=args.backbone,
                               weights=args.weights, executor=args.executor,
                               ray_address=args.ray_address, run_timeout=args.run_timeout)
    return config, seeds


def _print_training(training: api.Training) -> int:
    print(training.table(), end="")
    for line in training.warnings():
        print(line, file=sys.stderr)
    return training.exit_status


def cmd_train(args) -> int:
    return _print_training(api.train(args.output_dir, **_train_args(args)))


def _print_report(report: api.Report) -> None:
    print(f"wrote {report.summary_table}")
    print(report.text, end="")
    for path in report.extras:
        print(f"wrote {path}")
    for line in report.not_computed:
        print(f"not computed: {line}")


def cmd_report(args) -> None:
    _print_report(api.report(args.output_dir, backbone=args.backbone))


def cmd_paper(args) -> None:
    """The report, then the paper. Inputs the report cannot fix are checked first; a paper
    refused after the report was regenerated leaves the report files as they were."""
    from .report.paper import check_runs, paper_sources, restored_on_error, write_paper

    paper_sources(args.template, args.bib)       # a missing file fails before the report
    check_runs(args.output_dir)                  # so does what only analyze/train can fix
    report = None
    with restored_on_error(args.output_dir):
        if not args.skip_report:
            report = api.report(args.output_dir, backbone=args.backbone)
        path = write_paper(args.output_dir, args.paper, args.template, args.bib)
    if report is not None:
        _print_report(report)
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
    from .experiments.train import run_sweep, sweep_summary_columns, sweep_summary_rows
    from .report.markdown import markdown_table

    overrides, flags = sweep_overrides(args)
    sweep = load_sweep(args.sweep, out_dir=args.output_dir, overrides=overrides, flags=flags,
                       run_timeout=args.run_timeout)
    if args.executor != "ray" and args.ray_address is not None:
        from .errors import ConfigError

        raise ConfigError("--ray-address needs --executor ray")
    if args.dry_run:
        from .experiments.store import RunStore

        store = RunStore(args.output_dir / "runs")
        done = sum(store.is_finished(s.run_id) for s in sweep.specs)
        for s in sweep.specs:
            mark = "finished" if store.is_finished(s.run_id) else "to run"
            point = "".join(f"  {k}={v}" for k, v in sweep.point(s).items())
            print(f"{s.run_id}  {mark}{point}")
        if sweep.varied:
            print(f"settings that vary: {', '.join(sweep.varied)}")
        print(f"sweep {sweep.name}: {len(sweep.specs)} runs, {done} finished, "
              f"{len(sweep.specs) - done} to run")
        return 0
    outcome, folder = run_sweep(args.output_dir, sweep, workers=args.workers,
                                lockstep=args.lockstep, executor=args.executor,
                                ray_address=args.ray_address, quiet=args.quiet,
                                tensorboard=args.tensorboard, run_timeout=args.run_timeout)
    print(markdown_table(sweep_summary_rows(sweep, outcome.results),
                         sweep_summary_columns(sweep)), end="")
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
                            history=args.history, env_steps=args.env_steps,
                            select_by=args.select_by)
    status = 0
    if args.report_only:          # the plan the files came from, not this command's flags
        saved = study.read_plan(plan.out_dir)
        write_study_report(plan.out_dir, [e["name"] for e in saved["envs"]], saved)
    else:
        status = study.run_study(plan, write_study_reports, workers=args.workers,
                                 lockstep=args.lockstep, quiet=args.quiet,
                                 run_timeout=args.run_timeout).exit_status
    print((plan.out_dir / "study.md").read_text(encoding="utf-8"), end="")
    print(f"wrote {plan.out_dir / 'study.md'} and the study_*.csv tables beside it")
    return status


def cmd_pretrain(args) -> int:
    from .video.tiny import command as pretrain_command

    return pretrain_command.run(args)


def _video_settings(args):
    from .video.candidates.settings import VideoSettings

    return VideoSettings(weights=args.weights, timestep=args.timestep, device=args.device,
                         dtype=args.dtype, patch=args.patch, feature_norm=args.feature_norm,
                         readout=args.readout, readout_dim=args.readout_dim,
                         learner=args.learner)


def _resolve_defaults(args) -> None:
    """Defaults that depend on --backbone: the output folder and the layer groups."""
    if args.command == "sweep" and not args.dry_run:
        check_writable(args.output_dir)
    if args.command == "paper":
        check_writable(args.paper.parent)
    if args.command in ("sweep", "pretrain"):
        return                       # a sweep's flags left None mean "not overridden"
    backbone = getattr(args, "backbone", None)
    output_dir = getattr(args, "output_dir", None)
    for name in ("layers", "analysis_layers"):
        if getattr(args, name, "") is None:
            setattr(args, name, api.layer_names(None, backbone))
            if name == "analysis_layers" and args.command == "run":   # what it trains
                args.analysis_layers = api.run_analysis_layers(args.layers, backbone)
    args.output_dir = api.prepare(output_dir, backbone, getattr(args, "weights", None))


def cmd_evaluate(args) -> int:
    from .report.markdown import markdown_table

    rows = api.evaluate(args.output_dir, episodes=args.episodes, epsilon=args.epsilon,
                        quiet=args.quiet)
    print(markdown_table(rows, ["layer", "seed", "env_steps", "episodes", "stored_final_eval",
                                "final_eval", "same"]))
    own = args.episodes is None and args.epsilon is None
    differ = [r for r in rows if not r["same"]]
    print(f"wrote {args.output_dir / 'reevaluation.csv'}: {len(rows)} runs played again"
          + (f", {len(differ)} not as training recorded" if own else ""))
    return 3 if own and differ else 0


def cmd_tensorboard(args) -> None:
    from .experiments.tensorboard import FOLDER, export_store

    written = export_store(args.output_dir)
    print(f"wrote {len(written)} TensorBoard logs in {args.output_dir / FOLDER} (a run that "
          f"has one keeps it); view them with: tensorboard --logdir {args.output_dir / FOLDER}")


COMMANDS = {"analyze": cmd_analyze, "train": cmd_train, "report": cmd_report, "run": cmd_run,
            "sweep": cmd_sweep, "paper": cmd_paper, "pretrain": cmd_pretrain,
            "study": cmd_study, "evaluate": cmd_evaluate, "tensorboard": cmd_tensorboard}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # SIGTERM and SIGHUP stop the command as Ctrl-C does (workers ended, one line).
        # One BLAS thread: two collapse whenever another process shares the cores.
        with interrupt_on_signals(), threadpool_limits(1):
            _resolve_defaults(args)
            rc = COMMANDS[args.command](args)
    except RosettaError as exc:
        print(f"rosetta: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_status", 2)
    except KeyboardInterrupt as exc:
        print(f"rosetta: {interrupts.message(exc)}", file=sys.stderr)
        return interrupts.exit_status(exc)
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())

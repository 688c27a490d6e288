"""``rosetta pretrain``: the command line of :func:`.pretrain.pretrain` (no torch at import).

One flag per :class:`.config.PretrainConfig` field (``--seed``, ``--steps``, ...; help
text from the field's docstring), plus ``--output``, ``--force`` and ``--quiet``. The
defaults reproduce the shipped checkpoint, whose folder is the default output; an existing
checkpoint is never replaced without ``--force``.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import textwrap
from dataclasses import MISSING, fields
from pathlib import Path

from .config import SHIPPED_DIR, PretrainConfig


def field_help(cls: type) -> dict[str, str]:
    """Attribute docstrings of a dataclass (the string right after each field), by name."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body
    out = {}
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) \
                and isinstance(nxt.value.value, str):
            out[node.target.id] = " ".join(nxt.value.value.split())
    return out


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the pretraining flags to ``p`` and return it."""
    helps = field_help(PretrainConfig)
    for f in fields(PretrainConfig):
        kind = {"int": int, "float": float}[f.type]
        default = f.default if f.default is not MISSING else None
        p.add_argument(_flag(f.name), type=kind, default=default, metavar=kind.__name__.upper(),
                       help=f"{helps.get(f.name, '')} (default: {default})")
    p.add_argument("--output", type=Path, default=SHIPPED_DIR,
                   help="checkpoint folder (default: the shipped tiny-video inside the package)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing checkpoint in --output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    """The validated config the parsed flags describe (ConfigError on a bad value)."""
    return PretrainConfig(**{f.name: getattr(args, f.name) for f in fields(PretrainConfig)})


def command_line(config: PretrainConfig, output: Path, force: bool = False) -> str:
    """The full ``rosetta pretrain`` command, every setting explicit, that makes ``config``.

    ``--output`` is left out when it is the default (the shipped checkpoint's folder).
    """
    parts = ["rosetta", "pretrain"]
    for f in fields(PretrainConfig):
        parts += [_flag(f.name), f"{getattr(config, f.name)!r}"]
    if Path(output).resolve() != SHIPPED_DIR:
        parts += ["--output", str(output)]
    return " ".join(parts + (["--force"] if force else []))


def run(args: argparse.Namespace) -> int:
    """Pretrain with the parsed flags and print where the checkpoint went; 0 on success.

    Raises ConfigError (one line) for a bad setting or an existing checkpoint without
    ``--force``, before any training.
    """
    from .pretrain import pretrain, refuse_overwrite

    config = config_from_args(args)
    output = Path(args.output)
    refuse_overwrite(output, args.force)
    record = pretrain(config, output, quiet=args.quiet, force=args.force,
                      command=command_line(config, output, args.force))
    final = record["loss_curve"][-1]
    print(f"wrote {output} ({record['shards']} weight shards, "
          f"{record['files_bytes'] / 1e6:.2f} MB in all) in {record['wall_seconds']:.0f} s")
    for band, loss in zip(record["validation_bands"], final["val_band_loss"]):
        low, high = band["band"]
        print(f"validation v-MSE, t in [{low}, {high}): {loss:.4f} "
              f"(trivial per-pixel linear predictor {band['linear_loss']:.4f})")
    return 0

"""The files of a ``tiny-video`` checkpoint folder: the loss plot, the record's versions,
and writing the folder so that an interrupted run leaves any earlier checkpoint intact."""

from __future__ import annotations

import io
import os
import platform
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ...io import atomic_write_bytes, umask_mode, write_json


def plot_loss_curve(path: Path, curve: list[dict], bands: list[dict],
                    train_losses: list[float]) -> Path:
    """Train and validation loss against step (log scale), per-band panel with baselines.

    ``curve`` holds the evaluations (step 0 included, before any update), ``train_losses``
    the loss of every step.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    steps = [row["step"] for row in curve]
    left.plot(np.arange(1, len(train_losses) + 1), train_losses, color="tab:blue", alpha=0.25,
              lw=0.5, label="train (each step)")
    trained = [row for row in curve if row["train_loss"] is not None]
    left.plot([row["step"] for row in trained], [row["train_loss"] for row in trained],
              color="tab:blue", marker=".", label="train (mean since last evaluation)")
    left.plot(steps, [row["val_loss"] for row in curve], color="tab:orange", marker=".",
              label="validation (all bands)")
    left.axhline(np.mean([b["linear_loss"] for b in bands]), ls="--", color="gray",
                 label="trivial per-pixel linear predictor")
    left.set(xlabel="step", ylabel="v-prediction MSE", yscale="log", title="tiny-video loss")
    left.legend()
    for k, band in enumerate(bands):
        line, = right.plot(steps, [row["val_band_loss"][k] for row in curve],
                           label=f"t in [{band['band'][0]}, {band['band'][1]})")
        right.axhline(band["linear_loss"], ls="--", color=line.get_color())
    right.set(xlabel="step", ylabel="validation v-MSE", yscale="log",
              title="validation per band (dashed: trivial predictor)")
    right.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("rl-rosetta-layer", "numpy", "torch", "diffusers", "transformers",
                "safetensors", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def _parent(out_dir: Path) -> Path:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return out_dir.parent


def refuse_overwrite(out_dir: Path, force: bool) -> None:
    """Raise ConfigError if ``out_dir`` is a file, or a non-empty folder and not ``force``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output {out_dir} is a file; give a folder for the checkpoint")
    if not force and out_dir.is_dir() and any(out_dir.iterdir()):
        raise ConfigError(f"output {out_dir} already holds a checkpoint; refusing to overwrite "
                          "it (pass --force to replace it, or choose another --output)")


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished folder ``tmp`` (old one kept until the move)."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.replace(out_dir, old / out_dir.name)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_checkpoint(out_dir: Path, model, scheduler, record: dict, *, shard_bytes: int,
                     reference: dict[str, np.ndarray], curve: list[dict], bands: list[dict],
                     train_losses: list[float], start: float) -> None:
    """Write the checkpoint folder ``out_dir``: the weights (sharded at ``shard_bytes``),
    ``scheduler``'s config, ``reference_outputs.npz``, ``loss_curve.png`` and ``record`` as
    ``pretrain.json``; ``record`` gains ``shards``, ``wall_seconds`` (since ``start``, a
    ``time.perf_counter()``) and ``files_bytes``.

    Everything is written to a temporary sibling folder first and moved into place at the
    end, so an interrupted run leaves any earlier checkpoint intact.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=_parent(out_dir)))
    try:
        model.save_pretrained(tmp, safe_serialization=True, max_shard_size=shard_bytes)
        scheduler.save_pretrained(tmp)
        buf = io.BytesIO()
        np.savez(buf, **reference)
        atomic_write_bytes(tmp / "reference_outputs.npz", buf.getvalue())
        plot_loss_curve(tmp / "loss_curve.png", curve, bands, train_losses)
        record["shards"] = len(list(tmp.glob("*.safetensors")))
        record["wall_seconds"] = round(time.perf_counter() - start, 2)
        write_json(tmp / "pretrain.json", record)
        record["files_bytes"] = sum(p.stat().st_size for p in tmp.iterdir())
        for path in tmp.iterdir():                # temp names are private: make readable
            path.chmod(umask_mode())
        tmp.chmod(umask_mode(folder=True))
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

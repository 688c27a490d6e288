"""Where a backbone's weights are: the folder holding config.json and the safetensors for a
``--weights PATH`` (a model folder, a pipeline folder, a Hugging Face cache repository or
snapshot, or a file inside a model folder). Pure path logic: no torch, nothing read but
names, ``refs/main`` and the presence of config.json."""

from __future__ import annotations

from pathlib import Path

from ...errors import ConfigError, MissingInputError

#: Pickled checkpoint files: named in the error, never opened.
PICKLED = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def resolve_weights(path: str | Path) -> Path:
    """The folder holding config.json and the safetensors weights for ``path``.

    ``path`` may be a model folder, a pipeline folder (uses ``transformer/``), a Hugging
    Face cache repository folder ``models--ORG--NAME`` or one of its snapshots, or a file
    inside a model folder. MissingInputError names what is missing.
    """
    if path is None or (isinstance(path, str) and not path.strip()):
        raise MissingInputError("no weights path given; pass --weights PATH (a model folder, "
                                "a pipeline folder or a Hugging Face cache folder)")
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingInputError(f"weights path {p} does not exist; give a model folder "
                                f"(config.json + *.safetensors), a pipeline folder with "
                                f"transformer/, or a Hugging Face cache folder models--ORG--NAME")
    if p.is_file():
        p = p.parent
    p = _snapshot(p)
    candidates = [p, p / "transformer"]
    with_config = [c for c in candidates if (c / "config.json").is_file()]
    for folder in with_config:
        if any(folder.glob("*.safetensors")):
            return folder
    if not with_config:
        raise MissingInputError(f"no config.json in {p} (nor in {p / 'transformer'}); a model "
                                f"folder holds config.json and its *.safetensors weights")
    folder = with_config[0]
    pickled = sorted(f.name for pattern in PICKLED for f in folder.glob(pattern))
    found = f" (found {', '.join(pickled)}: pickled checkpoints are refused, never " \
            f"unpickled; convert them to safetensors)" if pickled else ""
    raise MissingInputError(f"no *.safetensors weights in {folder}{found}")


def _snapshot(p: Path) -> Path:
    """The snapshot folder of a Hugging Face cache repository folder; else ``p``."""
    if p.name == "snapshots":
        repo, snapshots = p.parent, p
    elif p.name.startswith("models--") and (p / "snapshots").is_dir():
        repo, snapshots = p, p / "snapshots"
    else:
        return p
    ref = repo / "refs" / "main"
    if ref.is_file():
        commit = ref.read_text(encoding="utf-8").strip()
        if (snapshots / commit).is_dir():
            return snapshots / commit
    found = sorted(d for d in snapshots.iterdir() if d.is_dir())
    if len(found) == 1:
        return found[0]
    if not found:
        raise MissingInputError(f"Hugging Face cache folder {repo} has no snapshot; download "
                                f"the model first")
    raise ConfigError(f"Hugging Face cache folder {repo} has {len(found)} snapshots and no "
                      f"refs/main; pass one of them: "
                      f"{', '.join(str(d) for d in found)}")

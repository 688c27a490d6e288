"""The run store: one folder per finished run, written atomically, never overwritten.

Layout under ``runs/``::

    <run_id>/config.json     the run's spec (env, layer, seed, DQN config, selected) and id
    <run_id>/returns.csv     episode, return, length, success, env_steps (full float precision)
    <run_id>/metrics.json    run id, SHA-256 of returns.csv, status, error, updates, the
                             run's summary numbers, its health checks on the task's probe
                             set and the flags they raised; with greedy evaluations, each
                             checkpoint's episodes, final_eval and auc_eval
    <run_id>/network.safetensors  the final online network (float32, by parameter name;
                             its SHA-256 in metrics.json), which ``rosetta evaluate`` plays
    <run_id>/manifest.json   package versions, commit, host, pid, executor, start and end times
    _failed/<run_id>.json    the error of a run that raised (not finished: retried on resume)

A run folder is assembled in a hidden temporary folder and moved into place with one
``os.replace``, so a folder named after a run id is always complete: a sweep killed at any
moment (SIGKILL included) leaves at most a hidden temporary folder, which the next sweep
removes. Everything but ``manifest.json`` depends only on the run's content, so the same run
gives the same bytes whichever executor, worker or lockstep group trained it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..agent.result import RunResult
from ..errors import CorruptFileError
from ..io import file_sha256, raise_if_disk_full, read_csv, umask_mode, write_json
from ..provenance import git_commit, now_utc, versions
from .spec import RunSpec

FILES = ("config.json", "returns.csv", "metrics.json", "manifest.json")
#: The final network of a run (written when the run kept it).
NETWORK_FILE = "network.safetensors"
RUN_RETURNS_COLUMNS = ("episode", "return", "length", "success", "env_steps")
LAST = 50
FAILED_DIR = "_failed"
_TMP_PREFIX = ".tmp-"
#: Age after which another host's temporary run folder is taken to be abandoned.
STALE_SECONDS = 600.0


def _json_text(obj: object) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def _num(x: float) -> float | None:
    """A float for JSON: NaN (no episodes) becomes null."""
    return None if math.isnan(x) else float(x)


def run_metrics(result: RunResult, last: int = LAST) -> dict:
    """The numbers a run's summary needs: only functions of its content, never of timing."""
    n = len(result.returns)
    tail = slice(-last, None)
    out = {
        "status": result.status,
        "error": result.error,
        "diverged": bool(result.diverged),
        "episodes": n,
        "env_steps": int(result.lengths.sum()),
        "updates": int(result.updates),
        "mean_last_50": _num(float(np.mean(result.returns[tail])) if n else math.nan),
        "mean_auc": _num(float(np.mean(result.returns)) if n else math.nan),
        "success_last_50": _num(float(np.mean(result.successes[tail])) if n else math.nan),
        "flags": result.flags,
        "health": result.health,
    }
    if result.evaluations:                  # left out without them: metrics stay as before
        out.update(evaluations=result.evaluations, final_eval=_num(result.final_eval),
                   auc_eval=_num(result.auc_eval))
    return out


def network_bytes(network: dict[str, np.ndarray]) -> bytes:
    """A network's parameters as safetensors bytes (float32, names sorted)."""
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(network[k], np.float32) for k in sorted(network)})


def read_network(path: Path, sha256: str | None = None) -> dict[str, np.ndarray]:
    """The parameters saved in ``path`` (``network.safetensors``), checked against
    ``sha256`` when given."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    data = Path(path).read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise CorruptFileError(f"{path} is not the network metrics.json was written with (its "
                               f"SHA-256 differs){_AGAIN}")
    try:
        return load(data)
    except (SafetensorError, ValueError) as exc:
        raise CorruptFileError(f"{path} is not a safetensors file: {exc}{_AGAIN}") from exc


def returns_text(result: RunResult) -> str:
    """Per-episode records as CSV; floats are written with ``repr`` so they load back exactly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(RUN_RETURNS_COLUMNS)
    steps = np.cumsum(result.lengths)
    for e in range(len(result.returns)):
        writer.writerow([e, repr(float(result.returns[e])), int(result.lengths[e]),
                         int(bool(result.successes[e])), int(steps[e])])
    return buf.getvalue()


def manifest(spec: RunSpec, result: RunResult, executor: str = "") -> dict:
    """Where, when and with what a run was trained (the one file that differs between reruns)."""
    extra = result.extra
    return {"run_id": spec.run_id, "versions": extra.get("versions", versions()),
            "commit": git_commit(), "host": extra.get("host", socket.gethostname()),
            "pid": extra.get("pid", os.getpid()), "executor": executor,
            "lockstep": extra.get("lockstep", 1), "started_at": extra.get("started_at", ""),
            "finished_at": extra.get("finished_at", ""),
            "wall_seconds": float(result.wall_seconds), "written_at": now_utc()}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: Fields of a run's ``metrics.json`` that loading it needs, with their JSON types.
METRICS_FIELDS = {"run_id": str, "returns_sha256": str, "diverged": bool, "error": str,
                  "updates": int, "episodes": int}
#: Most bytes one episode's row of a run's ``returns.csv`` may take (it takes under 64).
ROW_BYTES = 256
_AGAIN = "; delete the run folder to train the run again"


def _check_metrics(path: Path, metrics: object, run_id: str) -> None:
    """Raise CorruptFileError unless ``metrics`` is the metrics.json of run ``run_id``,
    with every field loading needs (the SHA-256 of ``returns.csv`` included: a folder
    without it cannot show that its returns are its own, and is refused)."""
    again = _AGAIN
    if not isinstance(metrics, dict):
        raise CorruptFileError(f"{path} must hold a JSON object, got "
                               f"{type(metrics).__name__}{again}")
    for key, kind in METRICS_FIELDS.items():
        value = metrics.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise CorruptFileError(f"{path} needs {key!r} as a JSON {kind.__name__}, got "
                                   f"{value!r}{again}")
    if not isinstance(metrics.get("health", []), list):
        raise CorruptFileError(f"{path}: 'health' must be a list, got "
                               f"{metrics['health']!r}{again}")
    if metrics["run_id"] != run_id:
        raise CorruptFileError(f"{path} belongs to run {metrics['run_id']}, not {run_id}{again}")


def _check_returns_file(path: Path, metrics: dict) -> None:
    """Raise CorruptFileError unless ``path`` is the ``returns.csv`` that ``metrics`` was
    written with: no larger than its episodes' rows can be, then the same SHA-256; both
    before a byte of it is parsed (a huge or foreign file is never read as returns)."""
    size = path.stat().st_size
    most = ROW_BYTES * (metrics["episodes"] + 1)
    if size > most:
        raise CorruptFileError(f"{path} is {size} bytes, more than {most}, the most "
                               f"{metrics['episodes']} episodes take: not the file "
                               f"metrics.json was written with{_AGAIN}")
    if file_sha256(path) != metrics["returns_sha256"]:
        raise CorruptFileError(f"{path} is not the file metrics.json was written with (its "
                               f"SHA-256 differs){_AGAIN}")


def _write_file(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """Finished runs under one ``runs/`` folder, keyed by run id."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, run_id: str) -> Path:
        return self.root / run_id

    def is_finished(self, run_id: str) -> bool:
        """A run is finished when its folder exists (it only ever appears complete)."""
        return self.path(run_id).is_dir()

    def finished_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith((".", "_")))

    def clean_stale(self, max_age: float = STALE_SECONDS) -> list[Path]:
        """Remove temporary folders left by writers that are gone.

        A folder is named ``.tmp-<host>-<pid>-<random>``: one of this host whose process has
        exited is removed at once; one of another host (a store shared by several machines)
        only once it is ``max_age`` seconds old, since writing a run takes milliseconds.
        """
        removed = []
        if not self.root.is_dir():
            return removed
        host = socket.gethostname()
        for p in self.root.iterdir():
            if not p.name.startswith(_TMP_PREFIX):
                continue
            parts = p.name[len(_TMP_PREFIX):].rsplit("-", 2)
            mine = len(parts) == 3 and parts[0] == host and parts[1].isdigit()
            try:
                age = time.time() - p.stat().st_mtime
            except OSError:
                continue
            if mine and int(parts[1]) != os.getpid() and not _pid_alive(int(parts[1])) \
                    or age > max_age:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
        return removed

    def write(self, spec: RunSpec, result: RunResult, executor: str = "") -> Path:
        """Atomically create ``runs/<run_id>/`` with the four files.

        A folder that already exists is left as it is (a finished run is never overwritten);
        returns the run's folder either way. A full disk raises
        :class:`~rl_rosetta_layer.errors.DiskFullError` and leaves no folder behind.
        """
        final = self.path(spec.run_id)
        if final.is_dir():
            return final
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(
                prefix=f"{_TMP_PREFIX}{socket.gethostname()}-{os.getpid()}-", dir=self.root))
        except OSError as exc:
            raise_if_disk_full(self.root, exc)
            raise
        try:
            _write_file(tmp / "config.json", _json_text({"run_id": spec.run_id,
                                                         **spec.to_dict()}))
            returns = returns_text(result)
            _write_file(tmp / "returns.csv", returns)
            network = {}
            if result.network is not None:
                data = network_bytes(result.network)
                _write_bytes(tmp / NETWORK_FILE, data)
                network = {"network_sha256": hashlib.sha256(data).hexdigest()}
            _write_file(tmp / "metrics.json", _json_text({
                "run_id": spec.run_id, "returns_sha256": _sha256(returns), **network,
                **run_metrics(result)}))
            _write_file(tmp / "manifest.json", json.dumps(
                manifest(spec, result, executor), indent=2, sort_keys=True, default=str) + "\n")
            os.chmod(tmp, umask_mode(folder=True))
            _fsync_dir(tmp)
            try:
                os.replace(tmp, final)
            except OSError:
                if not final.is_dir():      # not a concurrent writer of the same run
                    raise
        except OSError as exc:
            raise_if_disk_full(self.root, exc)
            raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        _fsync_dir(self.root)
        self.forget_failure(spec.run_id)
        return final

    # ---- failures: recorded beside the runs, never mistaken for a finished run
    def failure_path(self, run_id: str) -> Path:
        return self.root / FAILED_DIR / f"{run_id}.json"

    def write_failure(self, spec: RunSpec, result: RunResult, executor: str = "") -> Path:
        record = {"run_id": spec.run_id, "spec": spec.to_dict(), "error": result.error,
                  "manifest": manifest(spec, result, executor)}
        return write_json(self.failure_path(spec.run_id), record)

    def forget_failure(self, run_id: str) -> None:
        self.failure_path(run_id).unlink(missing_ok=True)

    # ---- reading
    def load(self, spec: RunSpec) -> RunResult:
        """The finished run of ``spec``, checking that the folder holds that very run."""
        folder = self.path(spec.run_id)
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
            (folder / "returns.csv").stat()
        except FileNotFoundError as exc:
            raise CorruptFileError(f"run folder {folder} lacks {Path(exc.filename).name}; "
                                   f"expected {', '.join(FILES)} (delete the folder to "
                                   f"train the run again)") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptFileError(f"run folder {folder} has an unreadable file: {exc}") from exc
        expected = {"run_id": spec.run_id, **json.loads(json.dumps(spec.to_dict()))}
        if config != expected:
            raise CorruptFileError(
                f"{folder / 'config.json'} describes a different run than {spec.run_id}; "
                f"delete the folder to train the run again")
        _check_metrics(folder / "metrics.json", metrics, spec.run_id)
        _check_returns_file(folder / "returns.csv", metrics)
        rows = read_csv(folder / "returns.csv", RUN_RETURNS_COLUMNS)
        try:
            returns = np.array([float(r["return"]) for r in rows], np.float64)
            lengths = np.array([int(r["length"]) for r in rows], np.int64)
            successes = np.array([r["success"] == "1" for r in rows], bool)
        except ValueError as exc:
            raise CorruptFileError(f"{folder / 'returns.csv'} is malformed: {exc}") from exc
        if len(returns) != metrics.get("episodes"):
            raise CorruptFileError(f"{folder / 'returns.csv'} has {len(returns)} episodes but "
                                   f"metrics.json says {metrics.get('episodes')!r}")
        evaluations = metrics.get("evaluations") or []
        if not isinstance(evaluations, list) or not all(
                isinstance(e, dict) and isinstance(e.get("returns"), list) for e in evaluations):
            raise CorruptFileError(f"{folder / 'metrics.json'}: 'evaluations' must be a list of "
                                   f"checkpoints with their returns{_AGAIN}")
        return RunResult(layer=spec.layer, seed=spec.seed, returns=returns, lengths=lengths,
                         successes=successes, diverged=bool(metrics["diverged"]),
                         error=str(metrics["error"]), updates=int(metrics["updates"]),
                         health=list(metrics.get("health") or []), evaluations=evaluations,
                         extra={"run_id": spec.run_id})

    def load_spec(self, run_id: str) -> RunSpec:
        """The spec a finished run's ``config.json`` records."""
        path = self.path(run_id) / "config.json"
        try:
            return RunSpec.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError,
                ValueError) as exc:
            raise CorruptFileError(f"{path} is not a run's readable config.json: {exc}"
                                   f"{_AGAIN}") from exc

    def load_network(self, spec: RunSpec) -> dict[str, np.ndarray]:
        """The final network saved with the finished run of ``spec`` (checked against the
        SHA-256 its metrics.json recorded)."""
        folder = self.path(spec.run_id)
        self.load(spec)                                  # the folder is that very run
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        if not (folder / NETWORK_FILE).is_file() or "network_sha256" not in metrics:
            raise CorruptFileError(f"run folder {folder} has no saved network (it was trained "
                                   f"before runs kept theirs){_AGAIN}")
        return read_network(folder / NETWORK_FILE, metrics["network_sha256"])

    def load_all(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        return [self.load(s) for s in specs]

"""Run folders: output checks before any work, picking the checkpoint to resume from, atomic logs.

- :func:`check_new_run` / :func:`check_writable` / :func:`check_sample_out` refuse a bad
  output path with one line (under a file, read-only, not ``.npy``) before anything is built.
- :func:`pick_checkpoint`: the newest kept checkpoint that verifies (``checkpoint.pt``,
  then ``.prev``, ``.prev2``...), with the reasons the newer ones were skipped.
- :func:`clean_temporaries`, :func:`truncate_log`, :func:`write_text`: leftovers of a kill
  removed, logs cut back to the resumed step, files replaced atomically.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from gan.checkpoint import CheckpointError, _payload, kept_checkpoints, temporary_files

__all__ = ["RunError", "RunWarning", "check_new_run", "check_writable", "check_sample_out", "pick_checkpoint",
           "clean_temporaries", "truncate_log", "write_text"]


class RunError(ValueError):
    """A run folder is missing, holds no run, or holds a run with another configuration."""


class RunWarning(UserWarning):
    """Something was skipped or cleaned up while resuming a run."""


def _existing_ancestor(path: Path, option: str, target: Path) -> Path:
    """The nearest existing ancestor of ``path`` (itself included); refuses one that is a file."""
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                where = "is a file" if p == target else f"is under {p}, which is a file, not a folder"
                raise RunError(f"{option} {target} {where}; choose a path in a writable folder")
            return p
    return Path.cwd()  # pragma: no cover - "/" always exists


def check_writable(path: str | os.PathLike, option: str = "--out", target: Path | None = None) -> None:
    """Refuse a folder ``path`` that cannot be made or written (under a file, read-only, no permission);
    messages name ``option`` and ``target`` (default ``path``)."""
    path = Path(path)
    target = path if target is None else target
    folder = _existing_ancestor(path, option, target)
    probe = folder / f".gan-write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RunError(f"{option} {target}: cannot write in {folder} ({e.strerror or e}); "
                       "choose a writable folder") from None


def check_new_run(run: Path, config_name: str) -> None:
    """A fresh run may go to a new or empty folder only; never over another run or other files."""
    if (run / config_name).exists():
        raise RunError(f"{run} already holds a run; continue it with resume={str(run)!r} "
                       "(gan train --resume RUN) or choose another out folder")
    if run.is_dir():
        for left in run.glob(f".{config_name}.tmp-*"):  # a start killed while writing its config
            left.unlink()
        others = sorted(p.name for p in run.iterdir())
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise RunError(f"out folder {run} is not empty ({shown}) and holds no gan run; it is never "
                           "overwritten: choose a new or empty folder")
    check_writable(run)


def check_sample_out(out: str | os.PathLike) -> Path:
    """``out`` for samples: a ``.npy`` file in a writable folder, not a folder itself."""
    out = Path(out)
    if out.suffix != ".npy":
        raise RunError(f"--out {out}: samples are written in numpy's .npy format; give a file name ending "
                       f"in .npy (got suffix {out.suffix or 'none'!r})")
    if out.is_dir():
        raise RunError(f"--out {out} is a folder; give a file name ending in .npy")
    check_writable(out.parent, option="--out", target=out)
    return out


def pick_checkpoint(path: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest kept checkpoint of ``path`` whose length and checksum verify, and the skipped ones
    as ``(file, reason)``; ``None`` when no kept checkpoint verifies."""
    skipped = []
    for candidate in kept_checkpoints(path):
        try:
            _payload(candidate)
        except CheckpointError as e:
            skipped.append((candidate, str(e)))
            continue
        return candidate, skipped
    return None, skipped


def clean_temporaries(path: Path) -> list[Path]:
    """Remove leftover temporary files of interrupted checkpoint writes; returns them."""
    removed = []
    for tmp in temporary_files(path):
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:  # pragma: no cover - removed meanwhile
            pass
    if removed:
        warn(f"removed {len(removed)} leftover temporary file(s) of an interrupted checkpoint write: "
             f"{', '.join(p.name for p in removed)}")
    return removed


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` atomically (temporary file, fsync, rename); leftovers of an
    earlier write of ``path`` killed midway are removed first."""
    for left in path.parent.glob(f".{path.name}.tmp-*"):
        left.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def truncate_log(path: Path, step: int) -> list[dict[str, Any]]:
    """Keep the complete JSON lines of ``path`` up to ``step`` (later ones, and a line cut by a kill,
    were written after the checkpoint); rewrites the file atomically and returns the kept records."""
    if not path.exists():
        return []
    kept, lines = [], []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] <= step:
            kept.append(rec)
            lines.append(line + "\n")
    write_text(path, "".join(lines))
    return kept


def warn(message: str) -> None:
    warnings.warn(message, RunWarning, stacklevel=3)

"""Crash-safe checkpoints: checksummed files, written atomically, previous good one kept.

File layout: one header line ``EQUILIB-CKPT 1 <payload bytes> <sha256 hex>\\n`` then the
payload, a ``torch.save`` of the state. :func:`save_checkpoint` writes to a temporary
file in the same folder, fsyncs it, checks it reads back, shifts the kept ones
(``<name>.prev`` -> ``<name>.prev2`` ..., oldest first), moves the current checkpoint
(if it verifies) to ``<name>.prev`` and renames the new file into place (``os.replace``
is atomic on POSIX), then fsyncs the folder and drops checkpoints beyond ``keep``. At
every instant at least one good checkpoint exists. :func:`load_checkpoint` verifies
the length and the checksum before unpickling and refuses a truncated or corrupt file
with :class:`CheckpointError`. :func:`kept_checkpoints` lists the kept files newest first.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "verify_checkpoint",
           "previous_path", "kept_checkpoints", "temporary_files", "MAGIC"]

MAGIC = b"EQUILIB-CKPT"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated or corrupt."""


def previous_path(path: str | os.PathLike, k: int = 1) -> Path:
    """Where the k-th previous checkpoint of ``path`` is kept: ``.prev``, then ``.prev2``, ``.prev3``..."""
    path = Path(path)
    return path.with_name(path.name + (".prev" if k == 1 else f".prev{k}"))


def _index(path: Path, name: str) -> int | None:
    if path.name == name:
        return 0
    m = re.fullmatch(re.escape(name) + r"\.prev([2-9]|[1-9]\d+)?", path.name)
    return (int(m.group(1)) if m.group(1) else 1) if m else None


def kept_checkpoints(path: str | os.PathLike) -> list[Path]:
    """The existing files ``path``, ``path.prev``, ``path.prev2``, ... newest first."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    found = [(_index(p, path.name), p) for p in path.parent.iterdir()]
    return [p for i, p in sorted((i, p) for i, p in found if i is not None)]


def temporary_files(path: str | os.PathLike) -> list[Path]:
    """Leftover ``.<name>.tmp-PID`` files of interrupted writes of ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.tmp-"))


def _encode(state: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    header = b"%s %d %d %s\n" % (MAGIC, VERSION, len(payload), hashlib.sha256(payload).hexdigest().encode())
    return header + payload


def _payload(path: Path) -> bytes:
    """The verified payload bytes of the checkpoint at ``path``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    end = data.find(b"\n", 0, 200)
    parts = data[:end].split(b" ") if end > 0 else []
    if len(parts) != 4 or parts[0] != MAGIC:
        raise CheckpointError(f"{path} is not an equilib checkpoint (bad header); refusing it")
    try:
        version, length, digest = int(parts[1]), int(parts[2]), parts[3].decode()
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{path} has a corrupt header; refusing it") from None
    if version != VERSION:
        raise CheckpointError(f"{path} has checkpoint format {version}; this version reads format {VERSION}")
    payload = data[end + 1:]
    if len(payload) != length:
        raise CheckpointError(
            f"{path} is truncated or corrupt: {len(payload)} payload bytes where the header says {length}; "
            "refusing it")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise CheckpointError(f"{path} is corrupt: its sha256 checksum does not match; refusing it")
    return payload


def verify_checkpoint(path: str | os.PathLike) -> bool:
    """True when ``path`` holds a complete checkpoint whose checksum matches."""
    try:
        _payload(Path(path))
    except CheckpointError:
        return False
    return True


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def save_checkpoint(state: Any, path: str | os.PathLike, keep: int = 2) -> Path:
    """Write ``state`` to ``path`` atomically, keeping the last ``keep`` checkpoints (this one included).

    The replaced checkpoint becomes ``path.prev`` (older ones ``.prev2``...). A current
    file that does not verify (e.g. truncated by a crash) is *not* kept, so the previous
    good checkpoints survive.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an integer >= 1, got {keep!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _encode(state)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _payload(tmp)  # read back what reached the disk
        if keep > 1 and path.exists() and verify_checkpoint(path):
            for k in range(keep - 1, 1, -1):  # oldest first: the order newest -> oldest holds at every instant
                if previous_path(path, k - 1).exists():
                    os.replace(previous_path(path, k - 1), previous_path(path, k))
            os.replace(path, previous_path(path))
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        for old in kept_checkpoints(path)[keep:]:
            old.unlink()
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """The state saved at ``path``, after checking its length and checksum.

    Raises :class:`CheckpointError` for a missing, truncated or corrupt file; the
    message names the previous good checkpoint when one exists.
    """
    path = Path(path)
    try:
        payload = _payload(path)
    except CheckpointError as e:
        prev = previous_path(path)
        if prev != path and verify_checkpoint(prev):
            raise CheckpointError(f"{e}. The previous good checkpoint {prev} is intact "
                                  "(gan train --resume RUN falls back to it by itself)") from None
        raise
    try:
        return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - anything torch.load raises means unreadable
        raise CheckpointError(f"{path} passed its checksum but could not be loaded: {e}") from e

"""Checkpoints: round trip, atomic replacement, refusal of truncated/corrupt files, previous one kept."""

import os

import pytest
import torch

from gan import checkpoint as ck


def _state(v: float) -> dict:
    return {"step": int(v), "w": torch.full((3, 4), v), "nested": {"rng": torch.arange(5, dtype=torch.uint8)}}


def _same(a: dict, b: dict) -> bool:
    return a["step"] == b["step"] and torch.equal(a["w"], b["w"]) and torch.equal(a["nested"]["rng"], b["nested"]["rng"])


def test_round_trip_and_previous_kept(tmp_path):
    path = tmp_path / "c.pt"
    ck.save_checkpoint(_state(1.0), path)
    assert not ck.previous_path(path).exists()
    ck.save_checkpoint(_state(2.0), path)
    assert _same(ck.load_checkpoint(path), _state(2.0))
    assert _same(ck.load_checkpoint(ck.previous_path(path)), _state(1.0))
    # no temporary files are left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "c.pt.prev"]


def test_header_records_length_and_sha256(tmp_path):
    import hashlib

    path = ck.save_checkpoint(_state(3.0), tmp_path / "c.pt")
    data = path.read_bytes()
    header, payload = data.split(b"\n", 1)
    magic, version, length, digest = header.split(b" ")
    assert magic == ck.MAGIC and int(version) == 1
    assert int(length) == len(payload)
    assert digest.decode() == hashlib.sha256(payload).hexdigest()


def test_truncated_checkpoint_is_refused_and_previous_named(tmp_path):
    path = tmp_path / "c.pt"
    ck.save_checkpoint(_state(1.0), path)
    ck.save_checkpoint(_state(2.0), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ck.CheckpointError, match=r"truncated.*previous good checkpoint .*c\.pt\.prev"):
        ck.load_checkpoint(path)
    assert not ck.verify_checkpoint(path)
    assert _same(ck.load_checkpoint(ck.previous_path(path)), _state(1.0))


def test_flipped_byte_fails_checksum(tmp_path):
    path = ck.save_checkpoint(_state(1.0), tmp_path / "c.pt")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ck.CheckpointError, match="checksum"):
        ck.load_checkpoint(path)


def test_not_a_checkpoint_and_missing(tmp_path):
    bad = tmp_path / "x.pt"
    torch.save({"a": 1}, bad)  # a plain torch file, no header
    with pytest.raises(ck.CheckpointError, match="not an equilib checkpoint"):
        ck.load_checkpoint(bad)
    with pytest.raises(ck.CheckpointError, match="no checkpoint at"):
        ck.load_checkpoint(tmp_path / "missing.pt")


def test_corrupt_current_is_not_rotated_over_the_good_previous(tmp_path):
    path = tmp_path / "c.pt"
    ck.save_checkpoint(_state(1.0), path)
    ck.save_checkpoint(_state(2.0), path)
    path.write_bytes(path.read_bytes()[:40])  # crash left a broken file
    ck.save_checkpoint(_state(3.0), path)
    assert _same(ck.load_checkpoint(path), _state(3.0))
    # the broken file was dropped, the good step-1 file is still the previous one
    assert _same(ck.load_checkpoint(ck.previous_path(path)), _state(1.0))


def test_crash_before_rename_leaves_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    ck.save_checkpoint(_state(1.0), path)
    real_replace = os.replace

    def crash(src, dst):
        if str(src).endswith(f".tmp-{os.getpid()}"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(ck.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        ck.save_checkpoint(_state(2.0), path)
    monkeypatch.undo()
    # the old checkpoint survives (as c.pt.prev, since the rotation happened) and is good
    survivors = [p for p in (path, ck.previous_path(path)) if ck.verify_checkpoint(p)]
    assert survivors and all(_same(ck.load_checkpoint(p), _state(1.0)) for p in survivors)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]

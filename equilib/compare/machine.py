"""The machine a result was measured on, as reports and run folders name it.

Two machines of one kind (same platform string, same kernels dispatched) can still differ in a GAN
run's last digits when their CPUs differ, so reports name the CPU itself, not only the platform.
"""

from __future__ import annotations

import platform
from pathlib import Path

__all__ = ["cpu_model"]


def cpu_model() -> str:
    """The CPU as /proc/cpuinfo names it on Linux: vendor and model name, then family, model and stepping
    (``"AuthenticAMD AMD EPYC (cpu family 26, model 2, stepping 1)"``); elsewhere ``platform.processor()``."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    first: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() and first:
            break  # the first processor's block
        key, _, value = line.partition(":")
        first.setdefault(key.strip(), value.strip())
    ids = ", ".join(f"{k} {first[k]}" for k in ("cpu family", "model", "stepping") if k in first)
    name = " ".join(first[k] for k in ("vendor_id", "model name") if first.get(k))
    return (f"{name} ({ids})" if ids else name) or platform.processor() or "unknown"

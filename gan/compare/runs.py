"""The runs behind a GAN comparison: find, launch or resume them, and read what they measured.

A comparison is solvers x seeds on one data set. Each (solver, seed) has a run folder
``RUNS/DATA-SOLVER-seedSEED`` written by :func:`gan.train`; a folder whose last evaluation
is at its configured step count is done, one that stopped earlier is resumed from its
newest checkpoint, a missing one is launched with the solver's recipe. Run folders given
explicitly (``--run``) are read as they are and grouped by their configuration without
the seed, so the same method at several seeds is one row.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan.config import ConfigError, TrainConfig
from gan.run_state import read_environment

__all__ = ["CompareError", "Run", "read_run", "run_folder", "status", "check_same_method", "ensure_run", "group_key",
           "flatten"]

#: configuration keys that do not change the method (a seed, where files go, how it is shown)
NOT_METHOD = ("seed", "out", "progress", "threads", "device", "eval_every", "eval_samples",
              "checkpoint_every", "keep_checkpoints", "diagnostics_every", "tensorboard")


class CompareError(ValueError):
    """A comparison that cannot be made: a bad name, a folder that is not a run, an unwritable report."""


@dataclass
class Run:
    """One finished (or partial) run folder: its configuration and its evaluations."""

    path: Path
    config: dict[str, Any]
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    environment: list[dict[str, Any]] = field(default_factory=list)  # environment.json (gan.run_state)

    @property
    def solver(self) -> str:
        return str(self.config.get("solver"))

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    @property
    def steps(self) -> int:
        return int(self.config.get("steps") or 0)

    @property
    def last(self) -> dict[str, Any]:
        return self.evaluations[-1] if self.evaluations else {}

    @property
    def done(self) -> bool:
        return bool(self.evaluations) and int(self.last.get("step", -1)) >= self.steps > 0

    @property
    def kernels(self) -> str | None:
        """The CPU kernels the run started on (``"AVX512"``, ``"DEFAULT (ATEN_CPU_CAPABILITY=default)"``),
        followed by ``on CPU`` where environment.json names the CPU;
        None for a run written before environment.json existed."""
        if not self.environment:
            return None
        first = self.environment[0]
        chosen = ", ".join(f"{k}={v}" for k, v in sorted(first.get("kernel_variables", {}).items()))
        cpu = f" on {first['cpu']}" if first.get("cpu") else ""
        return str(first.get("cpu_capability")) + (f" ({chosen})" if chosen else "") + cpu

    def seconds_per_step(self) -> float:
        last = self.last
        return float(last["seconds"]) / int(last["step"]) if last.get("step") else math.nan

    def cost(self, kind: str) -> float:
        """Mean ``cost.KIND`` (``evaluations`` or ``backward``) per step over the run's counted steps:
        each evaluation line holds the mean over the ``cost.steps`` steps since the line before
        (``gan train`` counts every step; a run written before that counted only the step before
        each evaluation, a line without ``steps``, weighed as one); NaN for a run without counts."""
        v = [(float(e["cost"][kind]), int(e["cost"].get("steps", 1))) for e in self.evaluations
             if kind in e.get("cost", {})]
        n = sum(steps for _, steps in v)
        return sum(x * steps for x, steps in v) / n if n else math.nan


def read_run(path: str | Path) -> Run:
    """The run in folder ``path`` (``config.json`` and ``metrics.jsonl``, as ``gan train`` writes them)."""
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CompareError(f"--run {path}: not a run folder of gan train (no config.json)")
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as e:
        raise CompareError(f"--run {path}: config.json is not valid JSON ({e})") from None
    evaluations = []
    metrics = path / "metrics.jsonl"
    if metrics.is_file():
        for line in metrics.read_text().splitlines():
            line = line.strip()
            if line:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill: the resume rewrites it
                    break
                if "step" in record:
                    evaluations.append(record)
    return Run(path, config, evaluations, read_environment(path))


def run_folder(runs: Path, data: str, solver: str, seed: int) -> Path:
    return runs / f"{data}-{solver}-seed{seed}"


def status(path: Path) -> str:
    """``"done"``, ``"partial"`` (a run that stopped before its last step) or ``"missing"``."""
    if not (path / "config.json").is_file():
        return "missing"
    return "done" if read_run(path).done else "partial"


def check_same_method(path: Path, config: dict[str, Any]) -> None:
    """Refuse (:class:`CompareError`, naming the folder and each key that differs) a run already at ``path``
    that is another method than ``config`` resolved with its recipe would launch (:func:`group_key`: the
    seed, threads and where files go aside), so a folder left by another ``--set`` or ``--steps`` is never
    read or resumed as if it were the one asked for. Nothing to check when ``path`` holds no run."""
    if status(path) == "missing":
        return
    try:
        wanted = TrainConfig.from_dict(dict(config)).resolved().to_dict()
    except (ConfigError, TypeError) as e:
        raise CompareError(f"configuration for {path}: {e}") from None
    have, want = json.loads(group_key(read_run(path))), json.loads(group_key(Run(path, wanted)))
    differ = [f"{k}: the run has {have.get(k)!r}, asked {want.get(k)!r}"
              for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)]
    if differ:
        raise CompareError(f"{path} holds a run of another configuration than the one asked for ({'; '.join(differ)}); "
                           "give another --runs folder, or the settings it was made with")


def ensure_run(path: Path, config: dict[str, Any], launch: bool = True) -> Run | None:
    """The run at ``path``: read when done, resumed when partial, launched with ``config`` when missing;
    a run there of another configuration is refused (:func:`check_same_method`).

    With ``launch=False`` nothing is trained and a missing run is ``None``.
    """
    import gan

    check_same_method(path, config)
    state = status(path)
    if state == "done" or not launch:
        return read_run(path) if state != "missing" else None
    if state == "partial":
        gan.train(resume=path)
    else:
        gan.train({**config, "out": str(path)})
    return read_run(path)


def group_key(run: Run) -> str:
    """The method of a run: its configuration without the seed and the bookkeeping keys. An option the run's
    config.json lacks (one added to gan train after the run) counts at its default, so an older run and a
    newer one with the same settings are one method. The solver options are those the run's environment.json
    says were in effect (defaults included) when it has one, so a run made before a solver default changed
    stays apart from one made after."""
    try:
        config = TrainConfig.from_dict(dict(run.config)).to_dict()
    except (ConfigError, TypeError):  # a config of an older layout (moved options): compared as it is
        config = dict(run.config)
    method = {k: _canonical(v) for k, v in config.items() if k not in NOT_METHOD}
    in_effect = run.environment[0].get("solver_options") if run.environment else None
    if isinstance(in_effect, dict):
        method["solver_options"] = {**_canonical(in_effect), **method.get("solver_options", {})}
    if isinstance(method.get("solver_options"), dict):  # an option given at the solver's default is left out
        method["solver_options"] = _without_defaults(method.get("solver"), method["solver_options"])
    return json.dumps(method, sort_keys=True, default=str)


def _without_defaults(solver: Any, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without the entries equal to the solver's defaults (equilib.solvers.solver_options) today:
    cgd with ``tol`` 1e-6 given and cgd that takes its default 1e-6 are one method."""
    from equilib.solvers import SolverError, solver_options
    try:
        defaults = {k: _canonical(v) for k, v in solver_options(solver).items()}
    except SolverError:
        return options
    return {k: v for k, v in options.items() if k not in defaults or defaults[k] != v}


def _canonical(value: Any) -> Any:
    """A value as compared between runs: an integral float as its int, so ``"r1": 1`` (a recipe written
    from ``--grid r1=0,1``) and ``"r1": 1.0`` (``--r1 1``) are one method."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of an evaluation record, as ``"ema.modes"``-style names."""
    out: dict[str, float] = {}
    for k, v in record.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[name] = float(v)
    return out

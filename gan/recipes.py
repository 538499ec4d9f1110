"""Recipes: the per-(data set, solver) defaults of ``gan train``, as data (``gan/recipes.json``).

The file maps a data set (or ``"*"``, any data set) to ``{"default": {...}, SOLVER: {...}}``;
each entry holds fields of :class:`gan.config.TrainConfig` and a ``source`` saying where the
values came from. The recipe of (data, solver) is ``*``'s default, then the data set's
default, then the data set's entry for the solver, later ones winning; ``solver_options`` and
``model_options`` are merged key by key. :func:`load_recipes` refuses, naming the file and the
key, a data set or solver it does not know, a field that is not an option of ``gan train``, a
solver option the solver does not take (``equilib.solver_options``), a value ``TrainConfig``
refuses, or an entry without its ``source``.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["RECIPES", "RecipeError", "load_recipes", "recipe", "MERGED_KEY_BY_KEY", "update_recipes"]

RECIPES = Path(__file__).with_name("recipes.json")

#: fields whose dicts merge key by key (later entries, then the caller's given keys, winning)
MERGED_KEY_BY_KEY = ("solver_options", "model_options")


class RecipeError(ValueError):
    """A recipe file names an unknown data set, solver, option or value."""


@functools.lru_cache(maxsize=8)
def _load(path: str, stamp: tuple) -> dict[str, dict[str, dict[str, Any]]]:
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecipeError(f"recipe file {path}: cannot read it as JSON ({e})") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe file {path}: expected an object of data sets, got {type(raw).__name__}")
    return {data: _check_data(path, data, entries) for data, entries in raw.items() if data != "about"}


def _check_data(path: str, data: str, entries: Any) -> dict[str, dict[str, Any]]:
    from gan.config_checks import DATA_NAMES, SOLVER_NAMES

    if data != "*" and data not in DATA_NAMES:
        raise RecipeError(f"recipe file {path}: unknown data set {data!r}; known: *, {', '.join(DATA_NAMES)}")
    if not isinstance(entries, dict):
        raise RecipeError(f"recipe file {path}: {data} must be an object of entries, got {type(entries).__name__}")
    for key in entries:
        if key != "default" and key not in SOLVER_NAMES:
            raise RecipeError(f"recipe file {path}: {data}.{key}: unknown solver {key!r}; "
                              f"the keys are default and the solvers {', '.join(SOLVER_NAMES)}")
    out = {key: _check_entry(path, data, key, entry) for key, entry in entries.items()}
    for key in out:  # the values, as TrainConfig sees them once merged
        _check_values(path, data, key, {**out.get("default", {}), **out[key]})
    return out


def _check_entry(path: str, data: str, key: str, entry: Any) -> dict[str, Any]:
    import equilib as eq

    from gan.config import RECIPE_FIELDS, TrainConfig

    where = f"recipe file {path}: {data}.{key}"
    if not isinstance(entry, dict):
        raise RecipeError(f"{where} must be an object of options, got {type(entry).__name__}")
    if not isinstance(entry.get("source"), str) or not entry["source"].strip():
        raise RecipeError(f"{where} has no 'source' (a line saying where its values came from)")
    # a recipe fills only what the caller left unset (None) and merges the option dicts: any other
    # field would be read and silently never applied
    settable = set(RECIPE_FIELDS) | set(MERGED_KEY_BY_KEY)
    for name in entry:
        if name == "source":
            continue
        if name not in settable:
            kind = "not an option recipes set" if name in TrainConfig.__dataclass_fields__ else "unknown option"
            raise RecipeError(f"{where}.{name}: {kind} {name!r}; a recipe sets {', '.join(sorted(settable))}")
    options = entry.get("solver_options")
    if options is not None:
        if key == "default":
            raise RecipeError(f"{where}.solver_options: solver options belong in a solver's entry, not the default")
        if not isinstance(options, dict):
            raise RecipeError(f"{where}.solver_options must be an object, got {type(options).__name__}")
        known = eq.solver_options(key)
        for name in options:
            if name not in known:
                raise RecipeError(f"{where}.solver_options.{name}: solver {key} has no option {name!r}; "
                                  f"its options: {', '.join(known) or 'none'}")
    return dict(entry)


def _check_values(path: str, data: str, key: str, values: dict[str, Any]) -> None:
    from gan.config import TrainConfig
    from gan.config_checks import ConfigError

    values = {k: v for k, v in values.items() if k != "source"}
    try:
        TrainConfig(data=data if data != "*" else "ring", solver=key if key != "default" else "simgd",
                    **values).validate()
    except (ConfigError, TypeError) as e:
        raise RecipeError(f"recipe file {path}: {data}.{key}: {e}") from None


def load_recipes(path: str | os.PathLike | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """The checked recipes of ``path`` (default the package's ``recipes.json``): ``{data: {key: entry}}``."""
    path = Path(path) if path is not None else RECIPES
    try:
        st = path.stat()
    except OSError as e:
        raise RecipeError(f"recipe file {path}: {e.strerror or e}") from None
    return _load(str(path), (st.st_mtime_ns, st.st_size, st.st_ino))


def recipe(data: str, solver: str, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The merged recipe of (data, solver): ``*``'s default, the data set's default, its solver entry.

    ``source`` lists the sources of the entries used, in that order.
    """
    book = load_recipes(path)
    out: dict[str, Any] = {}
    sources = []
    for entry in (book.get("*", {}).get("default"), book.get(data, {}).get("default"), book.get(data, {}).get(solver)):
        if not entry:
            continue
        sources.append(entry["source"])
        for k, v in entry.items():
            if k in MERGED_KEY_BY_KEY:
                out[k] = {**out.get(k, {}), **v}
            elif k != "source":
                out[k] = v
    out["source"] = sources
    return out


def update_recipes(data: str, entries: dict[str, dict[str, Any]], source: str,
                   path: str | os.PathLike | None = None) -> Path:
    """Set the entries of ``data``'s solvers (``{solver: {field: value}}``, dotted ``solver_options.KEY``
    allowed) on top of what the file holds, each with ``source`` (followed by the entry's earlier source,
    which still accounts for its other fields); the file is checked before it is replaced (atomically),
    so a bad entry leaves the old file in place."""
    path = Path(path or RECIPES)
    raw = json.loads(path.read_text())
    book = raw.setdefault(data, {"default": {"source": source}})
    for solver, values in entries.items():
        entry = dict(book.get(solver, {}))
        for key, value in values.items():
            if key.startswith("solver_options."):
                entry.setdefault("solver_options", {})[key.split(".", 1)[1]] = value
            else:
                entry[key] = value
        earlier = entry.get("source")
        entry["source"] = f"{source}; its other fields: {earlier}" if earlier and earlier != source else source
        book[solver] = entry
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(raw, indent=2) + "\n")
    try:
        _load.__wrapped__(str(tmp), (0,))  # uncached: refuses what gan train would refuse, naming the key
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

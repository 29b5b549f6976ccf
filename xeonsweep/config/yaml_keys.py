"""Config files are checked like the command line: every key of every YAML file a run
is composed from must be a key of the config's schema, or the run stops with one line
naming the file, the key and the valid keys.

The schema is what conf/ itself holds: the top-level settings of conf/config.yaml and
the keys of its sections, and for each config group the keys its options use. Open
on purpose: a model factory's keyword arguments (model.factory), `env`, hydra's own
node, and backend/quantization `options` (their dataclasses check those).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from xeonsweep.config.paths import CONF
from xeonsweep.errors import UserError

OPEN = {"hydra", "defaults", "env"}


@functools.cache
def _yaml(path: Path) -> tuple[bool, Any]:
    """(is it a global-package file, its content)."""
    text = path.read_text()
    header = "\n".join(line for line in text.splitlines()[:5] if line.startswith("#"))
    return "@package _global_" in header, yaml.safe_load(text) or {}


@functools.lru_cache(maxsize=1)
def schema() -> tuple[dict[str, set[str] | None], dict[str, set[str]]]:
    """(top-level key -> its allowed keys, or None when open or a plain value; group -> keys its options use)."""
    _, top = _yaml(CONF / "config.yaml")
    groups: dict[str, set[str]] = {}
    for folder in sorted(p for p in CONF.iterdir() if p.is_dir()):
        keys: set[str] = set()
        for path in folder.glob("*.yaml"):
            is_global, data = _yaml(path)
            if not is_global:
                keys |= set(data)
        if keys:
            groups[folder.name] = keys | {"defaults"}
    settings: dict[str, set[str] | None] = {}
    for key, value in top.items():
        if key not in OPEN:
            settings[key] = set(value) if isinstance(value, dict) else None
    for folder in (p for p in CONF.iterdir() if p.is_dir()):
        settings.setdefault(folder.name, None)
    return settings, groups


def _fail(path: Path, key: str, valid: set[str]) -> None:
    raise UserError(f"{path}: {key} is not a setting; valid: {', '.join(sorted(valid))}")


def check_group_node(path: Path, group: str, data: Any, prefix: str = "") -> None:
    _, groups = schema()
    if group not in groups or not isinstance(data, dict):
        return
    for key in data:
        if key not in groups[group]:
            _fail(path, f"{prefix}{key}", groups[group])


def check_global(path: Path, data: Any) -> None:
    settings, groups = schema()
    for key, value in (data or {}).items():
        if key in OPEN:
            continue
        if key not in settings:
            _fail(path, key, set(settings) | OPEN)
        if key in groups:
            check_group_node(path, key, value, f"{key}.")
        elif settings[key] is not None and isinstance(value, dict):
            for sub in value:
                if sub not in settings[key]:
                    _fail(path, f"{key}.{sub}", settings[key])


def check_syntax(dirs: list[Path]) -> None:
    """The YAML files of search-path folders (the primary config and group options a level down) parse:
    Hydra would stop on a broken one with the parser's stack, before any check of ours."""
    for folder in dirs:
        for path in sorted([*Path(folder).glob("*.yaml"), *Path(folder).glob("*/*.yaml")]):
            try:
                _yaml(path)
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark
                where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
                started = exc.context_mark  # where an unclosed bracket or quote began: often the real mistake
                context = f" ({exc.context}" + (f" from line {started.line + 1}" if started else "") + ")" \
                    if exc.context else ""
                raise UserError(f"{path}: not valid YAML at {where}: {exc.problem}{context}; fix the file "
                                "(valid: YAML like the files in xeonsweep/conf)") from None
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise UserError(f"{path}: not valid YAML: {' '.join(str(exc).split())}; fix the file") from None


def check_key(key: str) -> None:
    """A dotted key of the command line, checked as in a file: `section.key` must be a key of the section
    (the deeper levels of a group's key, and the open sections, are left to their own checks)."""
    settings, groups = schema()
    head, _, rest = key.partition(".")
    section = rest.split(".")[0]
    if not rest or head in OPEN:
        return
    valid = groups[head] - {"defaults"} if head in groups else settings.get(head)
    if valid is not None and section not in valid:
        raise UserError(f"{head}.{section} is not a setting; valid: {', '.join(sorted(valid))}")


def find_option(group: str, option: str, dirs: list[Path]) -> Path | None:
    for folder in dirs:  # in Hydra's search order, the first folder holding the file is the one used
        path = Path(folder) / group / f"{option}.yaml"
        if path.is_file():
            return path
    return None


def check_config(cfg: Any, dirs: list[Path]) -> None:
    """Every file the composed `cfg` came from (its primary config and each group choice)."""
    check_global(CONF / "config.yaml", _yaml(CONF / "config.yaml")[1])
    choices = cfg.hydra.runtime.choices if "hydra" in cfg else {}
    for group, option in choices.items():
        if group.startswith("hydra") or option is None or "/" in group:
            continue
        path = find_option(group, str(option), list(dirs))
        if path is None:
            continue
        is_global, data = _yaml(path)
        if is_global:
            check_global(path, data)
        else:
            check_group_node(path, group, data, f"{group}.")

"""A short name per config: the settings that tell it apart from the others it is shown with.

A row's settings are what enters its fingerprint (config.settings.measured_settings):
its columns (named as the store names them, so a label can be pasted into `--where`),
the sub-keys of its JSON columns (`backend.options.performance_hint`, `runtime.mode`,
`env.OMP_WAIT_POLICY`), and, when the row's config_json is at hand, every other
fingerprinted key (`model.factory.num_classes`). A label names only the settings whose
values differ, a group's own keys only where they differ for one choice of the group
(`backend=openvino`, not also `backend.impl=...`), and never bookkeeping (results,
cache, repeat, sweep_id, lock, cluster). Configs are told apart by config_hash: two
configs whose settings still read the same get their config_hash in the label.
"""

from __future__ import annotations

import json

import pandas as pd

# Settings that tell configs apart, as columns of the store (rows from before config_json, or
# loaded from the index without it, still get labels from these).
DIMENSIONS = (
    "seq_len", "batch_size", "channels_last", "precision", "allocator", "thp", "backend", "backend_options",
    "quantization", "quantization_options", "workers", "runtime", "runtime_options",
    "input_shape", "seed", "env", "warmup", "iterations", "min_duration_s", "memory_limit_mb",
    "scenario", "target_qps", "latency_slo_ms", "latency_percentile", "max_wait_ms",
)
# JSON columns: shown as their differing sub-keys, spelled as the override that sets them.
BLOBS = {"backend_options": "backend.options.", "quantization_options": "quantization.options.",
         "runtime_options": "runtime."}
# Keys of config_json that a column already holds, as the column's name.
AS_COLUMN = {
    "backend.name": "backend", "precision.name": "precision", "allocator.name": "allocator",
    "quantization.name": "quantization", "runtime.name": "runtime", "scenario.name": "scenario",
    "scenario.target_qps": "target_qps", "scenario.latency_slo_ms": "latency_slo_ms",
    "scenario.latency_percentile": "latency_percentile", "scenario.max_wait_ms": "max_wait_ms",
    "benchmark.warmup": "warmup", "benchmark.iterations": "iterations",
    "benchmark.min_duration_s": "min_duration_s", "benchmark.memory_limit_mb": "memory_limit_mb",
    "model.seq_len": "seq_len", "model.name": "model",
}
# Config groups: their other keys follow from the option chosen, so they show only where they differ
# between configs that chose the same option.
GROUPS = {"backend": "backend", "precision": "precision", "allocator": "allocator", "quantization": "quantization",
          "runtime": "runtime", "scenario": "scenario", "model": "model"}
NOT_LABELS = ("ladder.", "model.input_shape")  # the step names it; input_shape has its own column
# Variables the launcher sets from other settings: what is left of child_env is the run's `env`.
LAUNCHER_VARIABLES = ("PYTHONUNBUFFERED", "VIRTUAL_ENV", "LD_PRELOAD", "MALLOC_CONF", "THP_MEM_ALLOC_ENABLE",
                      "OMP_NUM_THREADS")
LONGEST_VALUE = 40  # a longer value is cut, with "...": labels stay one short line


def setting_text(value) -> str:
    """A setting's value as a label shows it: null as Hydra spells it, a whole number without `.0`
    (an integer column with nulls reads back as floats), lists and mappings as compact JSON."""
    if value is None or (isinstance(value, float) and value != value):
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"), default=str)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return setting_text(value.tolist())
    return str(value)


def env_settings(child_env) -> dict:
    """The `env` a run asked for, read back from the environment its child had."""
    if not isinstance(child_env, str):
        return {}
    return {k: v for k, v in json.loads(child_env).items() if k not in LAUNCHER_VARIABLES}


def flatten(node, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}; an empty mapping is no setting at all."""
    if not isinstance(node, dict):
        return {prefix[:-1]: node}
    out = {}
    for key, value in node.items():
        out.update(flatten(value, f"{prefix}{key}."))
    return out


def column_settings(row: pd.Series) -> dict:
    """A row's settings from its columns: plain ones by name, JSON ones by sub-key, env by variable."""
    found = {}
    for column in DIMENSIONS:
        if column == "env":
            found.update({f"env.{k}": v for k, v in env_settings(row.get("child_env")).items()})
        elif column in BLOBS:
            if isinstance(row.get(column), str):
                found.update(flatten(json.loads(row[column]), BLOBS[column]))
        elif column in row.index:
            found[column] = row[column]
    return found


def json_settings(config_json) -> dict:
    """A row's fingerprinted settings from its config_json, keyed as labels name them."""
    from xeonsweep.config.settings import measured_settings

    found = {}
    for key, value in flatten(measured_settings(json.loads(config_json))).items():
        if not key.startswith(NOT_LABELS):
            found[AS_COLUMN.get(key, key)] = value
    return found


JSON_MARK = "(config_json)"  # in a row's settings: they include config_json's (so an absent key is unset)


def row_settings(row: pd.Series) -> dict[str, str]:
    """Setting name -> its value as text, for one row (config_json's keys where the row has it)."""
    found = column_settings(row)
    if isinstance(row.get("config_json"), str):
        found.update(json_settings(row["config_json"]))
        found[JSON_MARK] = True
    return {name: setting_text(value) for name, value in found.items()}


def from_columns(name: str) -> bool:
    """A setting every row can have without its config_json."""
    return name in DIMENSIONS or name.startswith(("env.", *BLOBS.values()))


def excluded(name: str, exclude: tuple[str, ...]) -> bool:
    return name == JSON_MARK or name in exclude or name.split(".")[0] in exclude


def group_of(name: str) -> str | None:
    head = name.split(".")[0]
    return GROUPS.get(head) if "." in name else None


def differs(name: str, settings: list[dict[str, str]]) -> bool:
    """Whether configs differ in a setting: among those that can say (a key only config_json has,
    among those with theirs), and for a group's sub-key, among those that chose the same option."""
    known = settings if from_columns(name) else [s for s in settings if JSON_MARK in s]
    group = group_of(name)
    options: dict[str, list] = {}
    for s in known:
        options.setdefault(s.get(group, "null") if group else "", []).append(s)
    return any(len({s.get(name) for s in part}) > 1 for part in options.values())


def varying(settings: list[dict[str, str]], exclude: tuple[str, ...] = ()) -> list[str]:
    """The settings whose values differ between configs, in the order rows name them."""
    names = dict.fromkeys(name for s in settings for name in s)
    return [name for name in names if not excluded(name, exclude) and differs(name, settings)]


def short(text: str) -> str:
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 3] + "..."


def label_of(settings: dict[str, str], names: list[str]) -> str:
    """`name=value` for each differing setting the config has (one it lacks is unset: not shown)."""
    return " ".join(f"{name}={short(settings[name])}" for name in names if name in settings)


def config_keys(rows: pd.DataFrame, settings: pd.Series, exclude: tuple[str, ...]) -> pd.Series:
    """What pools rows into one config: their config_hash; their settings (but `exclude`) for rows
    without one, or when some fingerprinted settings are left out on purpose (the serving table's load)."""
    by_settings = settings.map(lambda s: json.dumps({k: v for k, v in s.items() if not excluded(k, exclude)},
                                                    sort_keys=True))
    if exclude or "config_hash" not in rows:
        return by_settings
    return rows["config_hash"].where(rows["config_hash"].map(lambda h: isinstance(h, str)), by_settings)


def labels_and_clashes(rows: pd.DataFrame, exclude: tuple[str, ...] = ()) -> tuple[pd.Series, bool]:
    """A label per row (one per config), and whether two configs' settings read the same (their
    config_hash then tells them apart)."""
    if rows.empty:
        return pd.Series(dtype=object), False
    settings = rows.apply(row_settings, axis=1)
    keys = config_keys(rows, settings, exclude)
    per_config = {key: settings[i] for i, key in keys.items()}
    names = varying(list(per_config.values()), exclude)
    text = {key: label_of(s, names) for key, s in per_config.items()}
    counts = pd.Series(list(text.values())).value_counts()
    clash = bool((counts > 1).any())
    for key in text:
        if counts[text[key]] > 1:
            text[key] = f"{text[key]} config_hash={key}".strip()
    return keys.map(text), clash


def steps_of(group: pd.DataFrame) -> pd.Series:
    if "ladder_step" not in group:
        return pd.Series("", index=group.index, dtype=object)
    return group["ladder_step"].where(group["ladder_step"].map(lambda s: isinstance(s, str)), "")


def config_labels(group: pd.DataFrame, exclude: tuple[str, ...] = ()) -> pd.Series:
    """A name per row: its ladder step (if any), then the settings that differ between configs of that
    step (between configs without a step, for those); `(one config)` when nothing is left to say."""
    labels = pd.Series("", index=group.index, dtype=object)
    for step, rows in group.groupby(steps_of(group), sort=False):
        text, _ = labels_and_clashes(rows, exclude)
        several = text.nunique() > 1
        labels[rows.index] = (step + " " + text).str.strip().replace("", "(defaults)" if several else "(one config)")
    return labels


def clashes(tables) -> bool:
    """Whether configs of one of these tables ((key, rows) pairs) need their config_hash to be told
    apart: their columns read the same, and their config_json may say how they differ."""
    for _, group in tables:
        if any(labels_and_clashes(rows)[1] for _, rows in group.groupby(steps_of(group), sort=False)):
            return True
    return False

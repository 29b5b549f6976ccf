"""Command line: `python -m xeonsweep` / `xeonsweep` runs or sweeps (Hydra);
`xeonsweep report ...`, `xeonsweep doctor` and `xeonsweep store compact` are subcommands.

Before Hydra starts, overrides are checked so that a bad group option or an
unknown setting stops with one line naming the value and the valid ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from xeonsweep.errors import UserError

from xeonsweep.config.paths import CONF
SUBCOMMANDS = {"report": "xeonsweep.report.tables", "doctor": "xeonsweep.machine.doctor", "store": "xeonsweep.store.cli"}


def config_dirs(args: list[str]) -> list[Path]:
    """conf/ plus any file:// folders added with hydra.searchpath=[...]."""
    dirs = [CONF]
    for arg in args:
        if arg.startswith("hydra.searchpath="):
            for item in arg.split("=", 1)[1].strip("[]").split(","):
                item = item.strip().strip("'\"")
                if item.startswith("file://"):
                    dirs.append(Path(item[len("file://"):]))
    return dirs


def group_options(group: str, dirs: list[Path] = (CONF,)) -> list[str]:
    return sorted({p.stem for d in dirs for p in (d / group).glob("*.yaml")})


def known_settings() -> list[str]:
    top = OmegaConf.load(CONF / "config.yaml")
    groups = [p.name for p in CONF.iterdir() if p.is_dir()]
    return sorted({k for k in top if k != "defaults"} | set(groups))


def override_args(args: list[str]) -> list[str]:
    """The key=value overrides among the arguments (not flags such as -m or --cfg)."""
    return [a for a in args if "=" in a and not a.startswith("-")]


def one_line(exc: Exception) -> str:
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def override_values(override) -> list[str]:
    if override.is_sweep_override():
        try:
            return list(override.sweep_string_iterator())
        except Exception:  # glob() and friends: left to Hydra
            return []
    return [override.get_value_element_as_str()]


def check_overrides(args: list[str]) -> None:
    """Group options must exist and top-level settings must be known; raise UserError otherwise."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    from xeonsweep.config.yaml_keys import check_syntax

    strings = override_args(args)
    groups = {p.name for p in CONF.iterdir() if p.is_dir()}
    settings = known_settings()
    dirs = config_dirs(args)
    check_syntax(dirs[1:])  # the user's own files (ours are tested)
    parser = OverridesParser.create()
    for text in strings:
        try:
            parser.parse_overrides([text])
        except HydraException as exc:
            raise UserError(f"{text} cannot be parsed: {one_line(exc)} (quote values holding = , [ ] or spaces)") from None
    for override in parser.parse_overrides(strings):
        key = override.key_or_group
        head = key.split(".")[0].split("/")[0]
        if head == "hydra" or override.type == OverrideType.DEL:
            continue
        if key in groups:
            options = group_options(key, dirs)
            for value in override_values(override):
                if value not in options and value != "null":
                    raise UserError(f"{key}={value} is not an option; valid: {', '.join(options)}")
        elif head == "search" and key.count(".") == 1 and override.type == OverrideType.CHANGE:
            _check_search_key(key)
        elif head not in settings and override.type != OverrideType.FORCE_ADD:
            if override.type == OverrideType.ADD:
                continue
            raise UserError(f"{head} is not a setting; valid: {', '.join(settings)}")


def _check_search_key(key: str) -> None:
    from xeonsweep.search.options import KEYS

    if key.split(".", 1)[1] not in KEYS:
        raise UserError(f"{key} is not a search setting; valid: {', '.join(f'search.{k}' for k in KEYS)}")


def check_single_run(args: list[str]) -> None:
    """A single run is validated here, before Hydra creates any output folder."""
    from hydra import compose, initialize_config_dir

    from xeonsweep.config import settings
    from xeonsweep.machine.facts import cpu_info

    from xeonsweep.config.yaml_keys import check_config

    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config_name="config", overrides=override_args(args), return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise UserError(one_line(exc)) from None
    check_config(cfg, config_dirs(args))
    run = settings.to_settings(cfg)
    if (run.get("search") or {}).get("sampler"):
        raise UserError(f"search={cfg.hydra.runtime.choices.get('search')} searches a sweep's space: add -m and give "
                        "settings several values, e.g. -m search=tpe 'batch_size=choice(1,2,4,8)'")
    settings.validate(run, cpu_info())
    settings.refuse_not_applicable(run)
    settings.check_before_run(run)


@hydra.main(config_path=str(CONF), config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> dict:
    from xeonsweep.sweep.task import run_job

    return run_job(cfg)


def run_main(args: list[str]) -> int:
    try:
        check_overrides(args)
        if not ({"-m", "--multirun"} & set(args)) and not any(a.startswith(("-c", "--cfg", "--info", "-h", "--help")) for a in args):
            check_single_run(args)
    except UserError as exc:
        print(f"xeonsweep: {exc}", file=sys.stderr)
        return 2
    sys.argv = [sys.argv[0], *args]
    _hydra_main()
    from xeonsweep.sweep.task import last_status

    # A single run that failed or timed out is a failed command (after its one-line status).
    return 1 if last_status() in ("failed", "timeout") else 0


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] in SUBCOMMANDS:
        import importlib

        return importlib.import_module(SUBCOMMANDS[args[0]]).main(args[1:])
    return run_main(args)

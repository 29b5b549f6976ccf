"""Command line: `python -m xeonsweep` / `xeonsweep` runs or sweeps (Hydra);
`xeonsweep report ...`, `xeonsweep doctor`, `xeonsweep store compact`, `xeonsweep recipe ...`
and `xeonsweep compare ...` are subcommands.

Before Hydra starts, the command line is read as Hydra reads it (its own parser and
search path: conf/, --config-dir, hydra.searchpath; flags may follow overrides) and
checked, so that a bad group option, an unknown setting (added with + or not) or a
mistyped subcommand stops with one line naming the value and the valid ones.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from xeonsweep.errors import UserError, one_line

if TYPE_CHECKING:
    from xeonsweep.config.run import Run

from xeonsweep.config import paths
from xeonsweep.config.composition import override_error
from xeonsweep.config.paths import CONF

# Every subcommand, in this one place: main() dispatches on it, and a mistyped one is answered from it.
SUBCOMMANDS = {"report": "xeonsweep.report.tables", "doctor": "xeonsweep.machine.doctor",
               "store": "xeonsweep.store.cli", "recipe": "xeonsweep.deploy.recipe",
               "compare": "xeonsweep.report.compare"}


def _usage_error(message: str) -> None:
    raise UserError(f"{message}; see python -m xeonsweep --help")


def parse_command_line(args: list[str]) -> argparse.Namespace:
    """The arguments as Hydra's own parser reads them, but with flags anywhere among the overrides
    (Hydra's stops at a flag written after an override) and a parse error on one line."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.error = _usage_error  # argparse would print its whole usage text
    parsed = parser.parse_intermixed_args(args)
    check_bare_words(parsed.overrides)
    return parsed


def check_bare_words(overrides: list[str]) -> None:
    """A word that is neither key=value nor ~key is a mistyped subcommand, not a Hydra grammar error."""
    for word in overrides:
        if "=" not in word and not word.startswith("~"):
            raise UserError(f"{word} is not a subcommand; valid: {', '.join(SUBCOMMANDS)} "
                            "(settings are given as key=value)")


def hydra_order(args: list[str]) -> list[str]:
    """The flags, then the overrides: what Hydra's parser accepts (`model=tiny -m batch_size=1,2` too)."""
    overrides = parse_command_line(args).overrides
    written = set(overrides)
    return [a for a in args if a not in written] + overrides


def search_path(config_dir: str | None):
    """conf/ and --config-dir, as Hydra's own entry point builds them (hydra/_internal/utils.py _run_hydra)."""
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery

    path = create_config_search_path(search_path_dir=str(CONF))
    if config_dir is not None:
        folder = os.path.abspath(config_dir)
        if not os.path.isdir(folder):
            raise UserError(f"--config-dir {config_dir} is not a folder; valid: a folder of config files")
        path.prepend(provider="command-line", path=f"file://{folder}", anchor=SearchPathQuery(provider="schema"))
    return path


def config_dirs(args: list[str]) -> list[Path]:
    """Every config folder Hydra searches, in its order (the first one holding a file is the one used):
    conf/, --config-dir, then hydra.searchpath."""
    parsed = parse_command_line(args)
    config_dir = os.path.abspath(parsed.config_dir) if parsed.config_dir is not None else None
    searchpath = tuple(o for o in parsed.overrides if o.lstrip("+").startswith("hydra.searchpath="))
    return list(_config_dirs(config_dir, parsed.config_name or "config", searchpath))


@functools.lru_cache(maxsize=16)  # the sweeper asks once per job
def _config_dirs(config_dir: str | None, config_name: str, searchpath: tuple[str, ...]) -> tuple[Path, ...]:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    loader = ConfigLoaderImpl(config_search_path=search_path(config_dir))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a missing folder: Hydra itself warns once, later
            _, repo = loader._parse_overrides_and_create_caching_repo(config_name, list(searchpath))
    except (HydraException, OmegaConfBaseException) as exc:
        raise UserError(one_line(exc)) from None
    folders = (paths.source_folder(s.scheme(), s.path) for s in repo.get_sources()
               if s.provider not in ("hydra", "schema"))
    return tuple(folder for folder in folders if folder is not None)


def group_options(group: str, dirs: list[Path] = (CONF,)) -> list[str]:
    return sorted({p.stem for d in dirs for p in (d / group).glob("*.yaml")})


def group_names(dirs: list[Path]) -> set[str]:
    return {p.name for d in dirs if d.is_dir() for p in d.iterdir() if p.is_dir()}


def known_settings() -> list[str]:
    top = OmegaConf.load(CONF / "config.yaml")
    groups = [p.name for p in CONF.iterdir() if p.is_dir()]
    return sorted({k for k in top if k != "defaults"} | set(groups))


def override_args(args: list[str]) -> list[str]:
    """The overrides among the arguments (not flags such as -m, --cfg or --config-dir and their values)."""
    return parse_command_line(args).overrides


def override_values(override) -> list[str]:
    if override.is_sweep_override():
        try:
            return list(override.sweep_string_iterator())
        except Exception:  # glob() and friends: left to Hydra
            return []
    return [override.get_value_element_as_str()]


def check_overrides(args: list[str]) -> None:
    """Group options must exist and settings (added with + or not) must be known; raise UserError otherwise."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    from xeonsweep.config.yaml_keys import OPEN, check_key, check_syntax

    strings = override_args(args)
    dirs = config_dirs(args)
    check_syntax(dirs[1:])  # the user's own files (ours are tested)
    groups = group_names(dirs)
    settings = known_settings()
    parser = OverridesParser.create()
    for text in strings:
        try:
            parser.parse_overrides([text])
        except HydraException as exc:
            raise UserError(f"{text} cannot be parsed: {one_line(exc)} "
                            "(quote values holding = , [ ] or spaces)") from None
    for override in parser.parse_overrides(strings):
        key = override.key_or_group
        head = key.split(".")[0].split("/")[0]
        if head in OPEN or override.type == OverrideType.DEL:
            continue
        if key in groups:
            options = group_options(key, dirs)
            for value in override_values(override):
                if value not in options and value != "null":
                    raise UserError(f"{key}={value} is not an option; valid: {', '.join(options)}")
        elif head not in settings and head not in groups:
            # With + too: a misspelled key would run, and change the fingerprint so that resume misses.
            raise UserError(f"{head} is not a setting; valid: {', '.join(settings)}")
        else:
            check_key(key)  # before Hydra, whose "To append to your config use +key" is the wrong fix


def compose(args: list[str], multirun: bool = False) -> DictConfig:
    """The config as `python -m xeonsweep` composes it (a sweep's: without its swept values), hydra node
    included. Hydra's own loader on its own search path: no global state, so a running sweep may ask too."""
    from hydra import version
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.types import RunMode

    version.setbase("1.3")  # as hydra.main(version_base="1.3") does
    parsed = parse_command_line(args)
    loader = ConfigLoaderImpl(config_search_path=search_path(parsed.config_dir))
    try:
        return loader.load_configuration(config_name=parsed.config_name or "config", overrides=parsed.overrides,
                                         run_mode=RunMode.MULTIRUN if multirun else RunMode.RUN, from_shell=False)
    except (HydraException, OmegaConfBaseException) as exc:
        raise UserError(_composition_error(exc, args, multirun)) from None


def _composition_error(exc: Exception, args: list[str], multirun: bool) -> str:
    """One line for Hydra's composition error (config.composition)."""
    return override_error(exc, lambda key: compose([a for a in args if not a.startswith(f"{key}=")], multirun))


def check_single_run(args: list[str]) -> Run:
    """A single run is planned (validated once) here, before Hydra creates any output folder."""
    from xeonsweep.config import settings
    from xeonsweep.config.yaml_keys import check_config
    from xeonsweep.machine.facts import cpu_info
    from xeonsweep.sweep.planning import plan_single

    cfg = compose(args)
    check_config(cfg, config_dirs(args))
    asked = settings.to_settings(cfg)
    if (asked.get("search") or {}).get("sampler"):
        raise UserError(f"search={cfg.hydra.runtime.choices.get('search')} searches a sweep's space: add -m and give "
                        "settings several values, e.g. -m search=tpe 'batch_size=choice(1,2,4,8)'")
    return plan_single(asked, cpu_info())


def check_command_line(args: list[str]) -> Run | None:
    """Everything that can be refused before Hydra starts (a sweep's jobs are checked by the sweeper);
    a single run comes back planned, for the task function."""
    parsed = parse_command_line(args)
    check_overrides(args)
    if parsed.help or parsed.hydra_help or parsed.cfg or parsed.info or parsed.shell_completion:
        return None
    if parsed.multirun:
        compose(args, multirun=True)  # what Hydra composes first: its errors as one line, not six
        return None
    return check_single_run(args)


def _hydra_main(planned: Run | None = None) -> Callable[[], Any]:
    """Hydra's entry point; its task function gets the single run planned from the command line."""
    @hydra.main(config_path=str(CONF), config_name="config", version_base="1.3")
    def task(cfg: DictConfig) -> dict:
        from xeonsweep.sweep.task import run_job

        return run_job(cfg, planned)

    return task


def run_main(args: list[str]) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:
        return interrupted()


def _run(args: list[str]) -> int:
    planned = None
    try:
        planned = check_command_line(args)
        args = hydra_order(args)
    except UserError as exc:
        print(f"xeonsweep: {exc}", file=sys.stderr)
        return 2
    sys.argv = [sys.argv[0], *args]
    _hydra_main(planned)()
    from xeonsweep.sweep.task import last_status

    # A single run that failed, timed out or missed its SLO is a failed command (after its one-line status).
    return 1 if last_status() in ("failed", "timeout", "INVALID") else 0


def interrupted() -> int:
    """Ctrl-C: every finished run is already in the store and no child outlives its run (they clean up on
    the way out), so one line says so instead of a traceback; 130 is the shell's code for SIGINT."""
    from xeonsweep.store.results import rows_written_here

    print(f"xeonsweep: interrupted; {rows_written_here()} run(s) written, run the same command again to resume",
          file=sys.stderr)
    return 130


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] in SUBCOMMANDS:
        import importlib

        return importlib.import_module(SUBCOMMANDS[args[0]]).main(args[1:])
    return run_main(args)

"""Where the sweeper hands a sweep to the search: light (no Optuna) for every grid sweep."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from xeonsweep.errors import UserError
from xeonsweep.search import options


def searching(config: Any) -> bool:
    """search=tpe, gp or random: True. search=none: False, after refusing search.* settings it would ignore."""
    from omegaconf import OmegaConf

    run = {"search": OmegaConf.to_container(config.search, resolve=True) if "search" in config else None}
    try:
        if options.asked(run):
            return True
        options.refuse_without_sampler(run, options.defaults())
    except UserError as exc:
        print(f"xeonsweep: {exc}", file=sys.stderr)
        sys.exit(2)
    return False


def hand_over(config: Any, compose: Callable[[list[str]], dict], overrides: list[str], launcher: Any = None) -> list:
    """The search, with the sweep's launcher (set up by the sweeper): a cluster's measures its batches."""
    from xeonsweep.search.driver import run_search

    return run_search(config, compose, overrides, launcher)

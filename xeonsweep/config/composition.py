"""Hydra's composition errors as one line, for a single run's command line and a sweep's jobs alike."""

from __future__ import annotations

import re
from collections.abc import Callable

from omegaconf import DictConfig, OmegaConf

from xeonsweep.errors import one_line


def override_error(exc: Exception, compose_without: Callable[[str], DictConfig]) -> str:
    """Hydra's "Could not override 'model.seq_len'. To append to your config use +model.seq_len=..." suggests
    the wrong fix (a key the chosen option does not have): name the option and its keys instead.
    `compose_without(key)` composes the same config without the override of `key`."""
    match = re.match(r"Could not override '([^']+\.[^'.]+)'", str(exc))
    if match is None:
        return one_line(exc)
    key = match[1]
    cfg = compose_without(key)
    node = OmegaConf.select(cfg, key.rpartition(".")[0])
    if not isinstance(node, DictConfig):
        return one_line(exc)
    head = key.split(".")[0]
    choice = cfg.hydra.runtime.choices.get(head)
    return f"{key} is not a setting{f' of {head}={choice}' if choice else ''}; valid: {', '.join(sorted(node))}"

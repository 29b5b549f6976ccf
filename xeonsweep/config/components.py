"""Turn a backend or quantizer config ({impl, options}) into its object.

Component modules import torch and friends only inside their methods, so the
parent can build (and so validate) them without loading any heavy library.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

from xeonsweep.errors import UserError


def load_class(path: str, group: str) -> type:
    module_name, _, class_name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UserError(f"{group}.impl={path} cannot be loaded: {exc}") from None


def build(group: str, node: Mapping[str, Any]) -> Any | None:
    """The component object for `node`, or None when the node has no impl."""
    if not node.get("impl"):
        return None
    cls = load_class(node["impl"], group)
    options = dict(node.get("options") or {})
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise UserError(
            f"{group}.options.{unknown[0]} is not an option of {group}={node['name']}; "
            f"valid: {', '.join(valid) or '(none)'}"
        )
    return cls(**options)


def check_choice(group: str, field: str, value: Any, allowed: tuple) -> None:
    """One-line error naming the field, the bad value and the allowed ones."""
    if value not in allowed:
        shown = ", ".join(str(a) for a in allowed)
        raise UserError(f"{group}.options.{field}={value} is not valid; valid: {shown}")

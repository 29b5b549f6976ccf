"""A search's space: what the user wrote in Hydra's sweep syntax, as Optuna distributions.

The space is the sweep's own overrides (`hydra.sweeper.params` and the command line), read
with Hydra's override parser, the way users of Hydra's Optuna sweeper write it:

- `choice(a,b,c)` or `a,b,c`: a categorical dimension;
- `range(start,stop,step)`: integers (or floats) from start, stop excluded, by step;
- `interval(low,high)`: a float dimension (integers when both ends are, or under `int(...)`),
  `tag(log, interval(...))` on a log scale.

Every other override is fixed: it goes into every candidate as written. A candidate is the
fixed overrides plus one `key=value` per dimension (`overrides`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from xeonsweep.errors import UserError

# Sweep settings that are the search's own or Hydra's: never dimensions.
NOT_SEARCHABLE = ("search", "hydra", "sweep_id", "repeat", "results", "cache", "lock", "cluster")


@dataclass
class Dimension:
    name: str           # the override's key as written, with its prefix (+, ++): Optuna's parameter name
    key: str            # the setting's path (a group's name for a group)
    distribution: BaseDistribution

    def override(self, value: Any) -> str:
        from hydra.core.override_parser.types import Override

        return f"{self.name}={Override._get_value_element_as_str(value)}"

    @property
    def first(self) -> Any:
        """The baseline's value: the first choice, the low end of a range."""
        d = self.distribution
        return d.choices[0] if isinstance(d, CategoricalDistribution) else d.low

    @property
    def size(self) -> float:
        """How many values it has (inf for a continuous one)."""
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return len(d.choices)
        if isinstance(d, IntDistribution) and not d.log:
            return (d.high - d.low) // d.step + 1
        if isinstance(d, IntDistribution):
            return d.high - d.low + 1
        if d.step is not None:
            return round((d.high - d.low) / d.step) + 1
        return math.inf

    def contains(self, value: Any) -> bool:
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return any(value == c and type(value) is type(c) for c in d.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if isinstance(d, IntDistribution) and value != int(value):
            return False
        return d._contains(d.to_internal_repr(value))


@dataclass
class Space:
    dimensions: list[Dimension] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # overrides every candidate has

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {d.name: d.distribution for d in self.dimensions}

    @property
    def size(self) -> float:
        """Distinct candidates (before folding); inf when a dimension is continuous."""
        return math.prod(d.size for d in self.dimensions) if self.dimensions else 0

    def overrides(self, params: dict[str, Any]) -> list[str]:
        return [*self.fixed, *(d.override(params[d.name]) for d in self.dimensions)]

    def baseline(self) -> dict[str, Any]:
        """The first value of every dimension: the search measures it first, as its baseline."""
        return {d.name: d.first for d in self.dimensions}

    def describe(self, params: dict[str, Any]) -> str:
        return " ".join(d.override(params[d.name]) for d in self.dimensions if d.name in params)


def parse(overrides: list[str]) -> Space:
    """The space of a sweep's overrides (hydra.sweeper.params first, then the command line)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    space = Space()
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if not override.is_sweep_override():
            space.fixed.append(override.input_line)
            continue
        key = override.key_or_group
        if key.split(".")[0].split("/")[0] in NOT_SEARCHABLE:
            raise UserError(f"{override.input_line}: {key} cannot be searched; search the run's settings "
                            "(batch_size, backend, precision, ...), not the search's own")
        if key in [d.key for d in space.dimensions]:
            raise UserError(f"{key} is given twice in the sweep; give its values once")
        space.dimensions.append(Dimension(override.get_key_element(), key, distribution(override)))
    return space


def distribution(override) -> BaseDistribution:
    """Optuna's distribution for one sweep override (as Hydra's Optuna sweeper maps them)."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep, Transformer

    value = override.value()
    if isinstance(value, (ChoiceSweep, RangeSweep)) and (isinstance(value, ChoiceSweep) or value.shuffle):
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        return _categorical(override, choices)
    if isinstance(value, RangeSweep):
        values = list(override.sweep_iterator(transformer=Transformer.encode))
        if not values:
            raise UserError(f"{override.input_line} holds no value; valid: range(start, stop, step) with start "
                            "before stop, stop excluded, e.g. range(1,9,2)")
        if values[0] > values[-1] or len(values) == 1:  # counting down, or one value: as listed
            return _categorical(override, values)
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=int(value.step))
        return FloatDistribution(float(values[0]), float(values[-1]), step=float(value.step))
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        low, high = value.start, value.end
        if not low < high or (log and low <= 0):
            raise UserError(f"{override.input_line} is not a valid interval; valid: interval(low, high) with "
                            "low < high" + (" and low > 0 on a log scale" if log else ""))
        if isinstance(low, int) and isinstance(high, int):
            return IntDistribution(low, high, log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise UserError(f"{override.input_line}: {type(value).__name__.lower()}() cannot be searched; valid: "
                    "choice(...), a comma list, range(...), interval(...), tag(log, interval(...))")


def _categorical(override, choices: list) -> CategoricalDistribution:
    for choice in choices:
        if not isinstance(choice, (str, int, float, bool, type(None))):
            raise UserError(f"{override.input_line}: {choice} cannot be a choice of a search; valid: "
                            "plain values (strings, numbers, true/false, null)")
    if len(choices) != len({(type(c), c) for c in choices}):
        raise UserError(f"{override.input_line} lists a value twice; list each once")
    return CategoricalDistribution(choices)


def value_of(run: dict, dimension: Dimension) -> Any:
    """The value a run's settings have for a dimension (a group's option name), or None."""
    node: Any = run
    for part in dimension.key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, dict):  # a config group: its option names itself
        return node.get("name")
    return node


def params_of(run: dict, space: Space) -> dict[str, Any] | None:
    """The parameters that would ask for `run` (a row's settings), or None when it lies outside the space."""
    params = {}
    for dimension in space.dimensions:
        value = value_of(run, dimension)
        if not dimension.contains(value):
            return None
        params[dimension.name] = value
    return params

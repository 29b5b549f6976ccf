"""`report --prices FILE`: a price per hour for each machine of the store, read and checked.

The file is a YAML mapping. A key that is a machine label (the store's `machine` column,
e.g. `AMD EPYC 9R14 (2 cores)`) takes a number; a cloud instance name takes its price and
the machine label its rows carry:

    "AMD EPYC 9R14 (2 cores)": 0.1
    c7i.xlarge: {per_hour: 0.1785, machine: "Intel(R) Xeon(R) Platinum 8488C (2 cores)"}

Prices are whatever unit the file is in (per hour); they are never measured, so the report
names the file they came from. Anything else is one line naming the bad entry and what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xeonsweep.errors import UserError

FORM = ("a mapping of a machine label to a price per hour, or of a cloud instance name to "
        "{per_hour: PRICE, machine: LABEL}")
KEYS = ("per_hour", "machine")


@dataclass(frozen=True)
class Price:
    name: str        # the key in the file: the machine label itself or a cloud instance name
    per_hour: float


def load(path: Path, machines: list[str]) -> dict[str, Price]:
    """Machine label -> its price; UserError for a file that is not FORM or names an unknown machine."""
    entries = _read(path)
    priced: dict[str, Price] = {}
    for name, value in entries.items():
        name = str(name)
        per_hour, machine = _entry(path, name, value)
        if machine not in machines:
            raise UserError(f"--prices {path}: {name}{'' if machine == name else f' (machine: {machine})'} names no "
                            f"machine of the store; machines here: {', '.join(sorted(machines))} (a cloud instance "
                            "name takes {per_hour: PRICE, machine: LABEL})")
        if machine in priced:
            raise UserError(f"--prices {path}: {machine} has two prices ({priced[machine].name} and {name}); "
                            "valid: one price per machine")
        priced[machine] = Price(name, per_hour)
    return priced


def _read(path: Path) -> dict:
    import yaml

    try:
        entries = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UserError(f"--prices {path} cannot be read: {exc.strerror}; valid: a YAML file, {FORM}") from None
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise UserError(f"--prices {path} is not valid YAML ({first}); valid: {FORM}") from None
    if not isinstance(entries, dict) or not entries:
        what = "nothing" if entries is None or entries == {} else f"a {type(entries).__name__}"
        raise UserError(f"--prices {path} holds {what}; valid: {FORM}")
    return entries


def _entry(path: Path, name: str, value) -> tuple[float, str]:
    """(price per hour, machine label) of one entry."""
    machine = name
    if isinstance(value, dict):
        unknown = sorted(str(k) for k in value if k not in KEYS)
        if unknown or "per_hour" not in value or "machine" not in value:
            raise UserError(f"--prices {path}: {name}: {value} is not valid; valid: {{per_hour: PRICE, machine: LABEL}}"
                            + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
        value, machine = value["per_hour"], str(value["machine"])
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        raise UserError(f"--prices {path}: {name}: {value!r} is not a price; valid: a number > 0 (price per hour)")
    return float(value), machine

"""Which Python environment a run executes in: xeonsweep's own, or the one its
backend names (conf/backend/*.yaml `venv`, e.g. .venv-ipex for IPEX)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def interpreter_for(run: dict) -> Path:
    venv = run["backend"].get("venv")
    if not venv:
        return Path(sys.executable)
    venv_path = Path(venv) if Path(venv).is_absolute() else ROOT / venv
    return venv_path / "bin" / "python"


def venv_dir(interpreter: Path) -> Path:
    return interpreter.parent.parent

"""The parent composes, validates and plans a sweep without importing torch."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = """
import sys
from hydra import compose, initialize_config_dir
from xeonsweep.sweep import planning
from xeonsweep.config import settings
from xeonsweep.launch import child as launch
from xeonsweep.store import rows
from xeonsweep.store import results
from xeonsweep.sweep import task as app
from xeonsweep.sweep import driver, launchers
from xeonsweep.store import record
from xeonsweep.config import run
from xeonsweep.launch import process
from xeonsweep.blocks import live
from xeonsweep.stats import confidence
from xeonsweep.launch import channel
from xeonsweep.cli import CONF
from xeonsweep.machine.facts import cpu_info
from xeonsweep.deploy import recipe, run_script, infer_script
from xeonsweep.report import compare

def settings_for(overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return settings.to_settings(compose(config_name="config", overrides=overrides))

jobs = [[f"model={m}", f"backend={b}", "allocator=tcmalloc"] for m in ("resnet50", "vit") for b in ("eager", "compile")]
plan = planning.plan_sweep(jobs, settings_for, cpu_info(), "s", None)
assert len(plan.jobs) == 4, plan
heavy = sorted(m for m in ("torch", "torchvision", "timm", "onnxruntime", "openvino", "nncf") if m in sys.modules)
print("heavy:", heavy)
"""


@pytest.mark.slow
def test_no_heavy_library_in_the_parent():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "heavy: []" in out.stdout

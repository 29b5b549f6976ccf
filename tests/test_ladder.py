"""The seed's ladder: every step composes for both models and sets what it names."""

import re

import pytest
from omegaconf import OmegaConf

from xeonsweep.cli import CONF
from xeonsweep.config import settings
from xeonsweep.machine.facts import cpu_info

LADDER = OmegaConf.load(CONF / "experiment" / "ladder.yaml").hydra.sweeper.params.step.split(",")

# What each step must resolve to:
# (backend, precision, allocator, batch, channels_last, thp, workers, runtime, quantization)
EXPECTED = {
    "baseline": ("eager", "fp32", "system", 1, False, False, 1, "python", "none"),
    "batch8": ("eager", "fp32", "system", 8, False, False, 1, "python", "none"),
    "channels_last": ("eager", "fp32", "system", 8, True, False, 1, "python", "none"),
    "bf16": ("eager", "bf16", "system", 8, True, False, 1, "python", "none"),
    "tcmalloc": ("eager", "bf16", "tcmalloc", 8, True, False, 1, "python", "none"),
    "thp": ("eager", "bf16", "tcmalloc", 8, True, True, 1, "python", "none"),
    "ipex": ("ipex", "bf16", "tcmalloc", 8, True, True, 1, "python", "none"),
    "compile": ("compile", "bf16", "tcmalloc", 8, True, True, 1, "python", "none"),
    "ipex_compile": ("ipex_compile", "bf16", "tcmalloc", 8, True, True, 1, "python", "none"),
    "run_cpu": ("ipex", "bf16", "tcmalloc", 8, True, True, 1, "run_cpu", "none"),
    "two_instances": ("ipex", "bf16", "tcmalloc", 8, True, True, 2, "run_cpu", "none"),
    "pt2e": ("compile", "bf16", "tcmalloc", 8, True, True, 1, "python", "pt2e"),
    # THP_MEM_ALLOC_ENABLE acts on torch's allocator: these backends ignore it (issue 9), so off.
    "onnxruntime": ("onnxruntime", "fp32", "tcmalloc", 8, False, False, 1, "python", "none"),
    "openvino": ("openvino", "fp32", "system", 8, False, False, 1, "python", "none"),
    "openvino_nncf": ("openvino", "fp32", "system", 8, False, False, 1, "python", "nncf"),
}


def test_the_ladder_is_the_seeds_order():
    assert LADDER == list(EXPECTED)
    assert sorted(p.stem for p in (CONF / "step").glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("model", ["resnet50", "vit"])
@pytest.mark.parametrize("step", list(EXPECTED))
def test_each_step_resolves_to_the_settings_it_names(step, model, compose_run):
    run = compose_run(f"step={step}", f"model={model}")
    settings.validate(run, cpu_info())
    settings.refuse_not_applicable(run)  # a step asks nothing its backend ignores
    got = (run["backend"]["name"], run["precision"]["name"], run["allocator"]["name"], run["batch_size"],
           run["channels_last"], run["thp"], run["workers"], run["runtime"]["name"], run["quantization"]["name"])
    assert got == EXPECTED[step]
    assert run["model"]["name"] == model
    assert run["ladder"] == {"step": step, "position": LADDER.index(step) + 1}
    if step in ("run_cpu", "two_instances"):
        assert run["runtime"]["intel_openmp"] is True
    if step.startswith("openvino"):
        assert run["backend"]["options"]["precision_hint"] == "default"


def test_every_step_documents_itself():
    for path in (CONF / "step").glob("*.yaml"):
        assert re.search(r"^# Ladder step \d+: .+", path.read_text(), re.M), path


@pytest.mark.parametrize("step", list(EXPECTED))
def test_each_step_takes_a_bert_without_channels_last(step, compose_run):
    """`experiment=ladder model=bert`: every step runs, channels-last dropped (not applicable), the rest as named."""
    run = compose_run(f"step={step}", "model=bert")
    run = settings.normalize(run)
    settings.validate(run, cpu_info())
    got = (run["backend"]["name"], run["precision"]["name"], run["allocator"]["name"], run["batch_size"],
           run["channels_last"], run["thp"], run["workers"], run["runtime"]["name"], run["quantization"]["name"])
    want = EXPECTED[step]
    assert got == (*want[:4], False, *want[5:])  # channels_last as if never asked

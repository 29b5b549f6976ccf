"""Declared inputs (pure parts), fidelity on any output, and the promise that image
models keep their fingerprints and cache keys."""

import copy

import numpy as np
import pytest

from xeonsweep.config import model_inputs, settings
from xeonsweep.errors import UserError
from xeonsweep.models import build as models, fidelity, inputs
from xeonsweep.models.artifacts import artifact_key

# Computed on ef1ff36, before models could declare inputs: rows and artifacts made
# then must still be found.
BEFORE = {
    (): {"config_hash": "9121d7d0656c2a35"},
    ("model=tiny",): {"config_hash": "1ecf4d161678f3d4", "model_key": "3bdea4ca4ee261b5",
                      "reference_key": "7f86977c8170114e", "onnx_key": "a52bab53f5a44d21"},
    ("model=vit",): {"config_hash": "052a524eec518acc"},
    ("model=tiny", "backend=openvino", "quantization=nncf"): {"config_hash": "32f021eec6ba2f68"},
    ("step=pt2e",): {"config_hash": "21b8a3de6772b3c0"},
}


@pytest.mark.parametrize("overrides", list(BEFORE), ids=[" ".join(o) or "defaults" for o in BEFORE])
def test_image_models_keep_their_fingerprints_and_cache_keys(overrides, compose_run):
    run = settings.normalize(compose_run(*overrides))
    want = BEFORE[overrides]
    assert settings.config_hash(run) == want["config_hash"]
    if "model_key" in want:
        assert models.model_key(run["model"], run["seed"]) == want["model_key"]
        # (the fidelity reference key changed on purpose: issue 9 keys it on shape, env and weights too)
        assert artifact_key(run, "onnx", {"torch": "x"}) == want["onnx_key"]


def test_an_image_models_input_is_the_same_seeded_tensor_as_before(compose_run):
    import torch

    model = compose_run("model=tiny")["model"]
    batch = inputs.generate(model, 2, 7)
    assert list(batch) == ["input"]
    assert torch.equal(batch["input"], torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(7)))
    assert model_inputs.not_applicable(model) == {}


def test_declared_inputs_have_their_dtypes_fills_and_seq_len(compose_run):
    import torch

    model = compose_run("model=bert", "model.seq_len=384")["model"]
    batch = inputs.generate(model, 3, 0)
    assert list(batch) == ["input_ids", "attention_mask", "token_type_ids"]
    assert all(t.dtype == torch.int64 and t.shape == (3, 384) for t in batch.values())
    assert 0 <= int(batch["input_ids"].min()) and int(batch["input_ids"].max()) < 30522
    assert batch["attention_mask"].eq(1).all() and batch["token_type_ids"].eq(0).all()
    assert model_inputs.symbolic_dims(model) == {"input_ids": [1], "attention_mask": [1], "token_type_ids": [1]}
    assert inputs.generate(model, 1, 0, {"seq_len": 5})["input_ids"].shape == (1, 5)
    assert "channels_last" in model_inputs.not_applicable(model)


def test_sweeping_seq_len_changes_what_is_measured_and_the_keys(compose_run):
    short, long = (settings.normalize(compose_run("model=bert", f"model.seq_len={n}")) for n in (128, 384))
    assert settings.config_hash(short) != settings.config_hash(long)
    assert fidelity.reference_key(short) != fidelity.reference_key(long)
    assert artifact_key(short, "onnx") != artifact_key(long, "onnx")


BAD_INPUTS = [
    ({"dtype": "int8"}, "model.inputs.input_ids.dtype=int8 is not valid; valid: float32, int64, bool"),
    ({"fill": "uniform"}, "model.inputs.input_ids.fill=uniform is not valid; valid: normal, randint, ones, zeros"),
    ({"shape": ["seq"]}, "model.inputs.input_ids.shape=['seq'] is not valid; valid: positive integers or the name"),
    ({"high": None}, "model.inputs.input_ids.high=None is not valid for fill=randint; valid: an integer > low=0"),
    ({"fill": "normal"}, "model.inputs.input_ids.fill=normal does not fit dtype=int64; valid: randint, ones, zeros"),
]


@pytest.mark.parametrize("change, message", BAD_INPUTS, ids=[m.split(" ")[0] for _, m in BAD_INPUTS])
def test_a_bad_input_declaration_is_one_line(change, message, compose_run):
    run = compose_run("model=bert")
    bad = copy.deepcopy(run)
    bad["model"]["inputs"]["input_ids"].update(change)
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("(", r"\(")):
        settings.validate(bad, settings_cpu())


def settings_cpu():
    from xeonsweep.machine.facts import CpuInfo

    return CpuInfo(model="test", logical_cpus=4, physical_cores=4, sockets=1, flags=frozenset({"avx2"}))


def test_channels_last_on_a_bert_is_refused_alone_and_dropped_in_a_sweep(compose_run):
    asked = compose_run("model=bert", "channels_last=true")
    with pytest.raises(UserError,
                       match=r"^channels_last=true does not apply: model=bert has inputs that are not all 4-D"):
        settings.refuse_not_applicable(copy.deepcopy(asked))
    in_sweep = settings.normalize(copy.deepcopy(asked))
    settings.validate(in_sweep, settings_cpu())
    assert in_sweep["channels_last"] is False  # as if never asked: the fingerprint of channels_last=false
    default = settings.normalize(compose_run("model=bert"))
    assert settings.config_hash(default) == settings.config_hash(in_sweep)  # one config, one fingerprint


def test_fidelity_compares_every_tensor_of_tuples_dicts_and_model_outputs():
    from collections import OrderedDict

    ref = [np.array([[1.0, 2.0], [3.0, -1.0]]), np.ones((2, 3, 4))]
    same = fidelity.compare(fidelity.tensors(OrderedDict(logits=ref[0], hidden=(ref[1],), loss=None)), ref)
    assert same == {"top1_agreement": 1.0, "max_rel_error": 0.0, "cosine_similarity": pytest.approx(1.0)}
    off = fidelity.compare(fidelity.tensors((ref[0][:, ::-1], ref[1] * 0.5)), ref)
    assert off["top1_agreement"] == 0.0
    assert off["max_rel_error"] == pytest.approx(4 / 3)  # |-1 - 3| / max|ref| = 3: the worse of the two outputs
    assert off["cosine_similarity"] == pytest.approx(-2 / 15)  # (1*2 + 2*1 + 3*-1 + -1*3) / 15, the lower one
    hidden = fidelity.compare([ref[1]], [ref[1]])
    assert hidden["top1_agreement"] is None  # not (batch, classes)
    with pytest.raises(RuntimeError, match="returned 1 output tensors, fp32 eager 2"):
        fidelity.compare([ref[0]], ref)

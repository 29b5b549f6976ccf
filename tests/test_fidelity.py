"""The fp32 reference a run is compared with is the one for its own input, env and weights."""

import copy

import pytest

from xeonsweep.models import fidelity


@pytest.fixture
def run(compose_run):
    return compose_run("model=tiny")


def test_reference_is_computed_again_for_another_shape_env_or_weights(run, tmp_path):
    import torch

    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4))
    weights = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(1)}, weights)
    cache_dir = str(tmp_path / "cache")

    def reference(variant, shape):
        example = {"input": torch.randn(variant["batch_size"], *shape, generator=torch.Generator().manual_seed(0))}
        out, seconds = fidelity.reference(lambda: model, example, variant, cache_dir)
        return out, seconds

    base = copy.deepcopy(run)
    base["model"]["weights"] = str(weights)
    first, _ = reference(base, [3, 8, 8])
    again, seconds = reference(base, [3, 8, 8])
    assert seconds == 0.0 and (again[0] == first[0]).all()  # the same run is served from the cache

    other_shape = copy.deepcopy(base)
    other_shape["model"]["input_shape"] = [3, 4, 4]
    out, seconds = reference(other_shape, [3, 4, 4])
    assert seconds > 0.0 and out[0].shape == first[0].shape  # computed, not the 8x8 input's output

    other_env = copy.deepcopy(base)
    other_env["env"] = {"ONEDNN_DEFAULT_FPMATH_MODE": "BF16"}
    _, seconds = reference(other_env, [3, 8, 8])
    assert seconds > 0.0

    torch.save({"w": torch.ones(1)}, weights)  # same path, other content
    _, seconds = reference(base, [3, 8, 8])
    assert seconds > 0.0

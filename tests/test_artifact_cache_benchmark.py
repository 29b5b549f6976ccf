"""The artifact-cache benchmark's pure part (the sweeps themselves are the lead's to run)."""

import importlib.util

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("artifact_cache", ROOT / "benchmarks" / "artifact_cache.py")
artifact_cache = importlib.util.module_from_spec(spec)
spec.loader.exec_module(artifact_cache)


def test_sps_ratio_pairs_blocks_round_by_round():
    # Round by round the warm process runs at 0.5x, however much the rounds differ.
    cold = {"block_sps": [100.0, 200.0, 300.0, 400.0, 500.0]}
    warm = {"block_sps": [50.0, 100.0, 150.0, 200.0, 250.0, 999.0]}  # a block the cold one lacks is left out
    ratio, low, high, rounds = artifact_cache.paired_ratio(cold, warm)
    assert (ratio, low, high, rounds) == (0.5, 0.5, 0.5, 5)


def test_sps_ratio_interval_is_seeded_and_holds_the_median():
    cold = {"block_sps": [100.0] * 8}
    warm = {"block_sps": [95.0, 97.0, 99.0, 100.0, 101.0, 102.0, 104.0, 110.0]}
    first = artifact_cache.paired_ratio(cold, warm)
    assert first == artifact_cache.paired_ratio(cold, warm)
    ratio, low, high, rounds = first
    assert ratio == pytest.approx(1.005) and low <= ratio <= high and rounds == 8

"""`xeonsweep compare`: two stores or two sweeps, config by config, from rows written with the
real store writer (no process started: main() is called here)."""

from datetime import datetime, timezone

import pytest

from xeonsweep.report import compare
from xeonsweep.store.results import write_row

MACHINE = "Test CPU (2 cores)"


def block_row(config: str, sps: float, half: float, sweep: str = "s1", machine: str = MACHINE, model: str = "tiny",
              status: str = "ok") -> dict:
    """A row measured in blocks: its median and a 95% interval of ±half around it."""
    return {
        "run_key": f"{config}-{sweep}-{machine[:4]}", "config_hash": config, "sweep_id": sweep, "status": status,
        "started_at": datetime(2026, 1, 1, tzinfo=timezone.utc), "model": model, "machine": machine,
        "backend": config.split("-")[0], "batch_size": 8, "measurement": "blocks",
        **({"sps": sps, "sps_ci_low": sps - half, "sps_ci_high": sps + half, "target_met": True, "blocks": 6,
            "rounds": 6} if status == "ok" else {"reason": "boom"}),
    }


def store(tmp_path, name: str, rows: list[dict]):
    path = tmp_path / name
    for row in rows:
        write_row(row, path, row["sweep_id"])
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = compare.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_slower_faster_same_and_unmatched_configs(tmp_path, capsys):
    a = store(tmp_path, "a", [block_row("eager", 100, 2), block_row("onnxruntime", 200, 3),
                              block_row("openvino", 300, 3), block_row("compile", 150, 2)])
    b = store(tmp_path, "b", [block_row("eager", 80, 2), block_row("onnxruntime", 201, 3),
                              block_row("openvino", 360, 3), block_row("ipex", 90, 2)])
    code, out, err = run(capsys, a, b)
    assert code == 0, err
    lines = {line.split("│")[2].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert "0.800x [0.765-0.837]" in lines["backend=eager"] and "slower" in lines["backend=eager"]
    assert "faster" in lines["backend=openvino"] and "same" in lines["backend=onnxruntime"]
    assert "A only" in lines["backend=compile"] and "B only" in lines["backend=ipex"]
    verdict = next(line for line in out.splitlines() if line.startswith("tiny: "))
    assert verdict.startswith("tiny: B is slower in 1 config(s) (most: backend=eager 0.800x")
    assert "faster in 1" in verdict and "1 in A only" in verdict and "1 in B only" in verdict
    assert "unpaired" in out


def test_fail_on_slower_guards_an_upgrade(tmp_path, capsys):
    a = store(tmp_path, "a", [block_row("eager", 100, 2), block_row("onnxruntime", 200, 3)])
    b = store(tmp_path, "b", [block_row("eager", 94, 1), block_row("onnxruntime", 199, 3)])
    code, _, err = run(capsys, a, b, "--fail-on-slower", "5")
    assert code == 1
    assert "tiny backend=eager is slower by more than 5%: B/A 0.940" in err
    assert run(capsys, a, b, "--fail-on-slower", "10")[0] == 0  # 6% slower: under 10
    # Within the intervals: never a failure, whatever the point ratio says.
    noisy = store(tmp_path, "noisy", [block_row("eager", 94, 10), block_row("onnxruntime", 199, 3)])
    assert run(capsys, a, noisy, "--fail-on-slower", "5")[0] == 0


def test_two_sweeps_of_one_store(tmp_path, capsys):
    both = store(tmp_path, "s", [block_row("eager", 100, 2, sweep="before"), block_row("eager", 120, 2, sweep="after")])
    code, out, err = run(capsys, both, "--where-a", "sweep_id=before", "--where-b", "sweep_id=after")
    assert code == 0, err
    assert "1.200x" in out and "faster" in out
    code, _, err = run(capsys, both)
    assert code == 2 and err.count("\n") == 1 and "--where-a" in err


def test_other_machines_are_refused_unless_told(tmp_path, capsys):
    a = store(tmp_path, "a", [block_row("eager", 100, 2)])
    b = store(tmp_path, "b", [block_row("eager", 100, 2, machine="Other CPU (64 cores)")])
    code, out, err = run(capsys, a, b)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "Test CPU (2 cores)" in err and "Other CPU (64 cores)" in err and "--allow-other-machines" in err
    code, out, err = run(capsys, a, b, "--allow-other-machines")
    assert code == 0, err
    assert "1.000x" in out and "different kinds of machine" in out


def test_failed_config_is_listed_not_compared(tmp_path, capsys):
    a = store(tmp_path, "a", [block_row("eager", 100, 2)])
    b = store(tmp_path, "b", [block_row("eager", 0, 0, status="failed")])
    code, out, _ = run(capsys, a, b, "--fail-on-slower", "5")
    assert code == 0
    assert "failed" in out and "1 not ok on a side" in out


@pytest.mark.parametrize("argv, message", [
    (["{tmp}/nothing", "{a}"], "A={tmp}/nothing is not a results store"),
    (["{a}", "/etc"], "B=/etc is not a results store"),
    (["{a}", "{a}", "--where-b", "model=resnet51"], "B={a} has no rows where model=resnet51"),
    (["{a}", "{a}", "--where", "modle=tiny"], "--where modle=tiny is not valid"),
    (["{a}", "{a}", "--fail-on-slower", "-3"], "--fail-on-slower -3 is not valid"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    a = store(tmp_path, "a", [block_row("eager", 100, 2)])
    code, out, err = run(capsys, *[arg.format(tmp=tmp_path, a=a) for arg in argv])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("xeonsweep: " + message.format(tmp=tmp_path, a=a)), err

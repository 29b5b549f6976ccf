"""What a person reads while a sweep runs: a failed run says why, in a line or two."""

from xeonsweep.sweep.progress import SweepProgress, reason_lines

DIED = ("child exited with status 1 during set-up\nTraceback (most recent call last):\n"
        '  File "main.py", line 191, in main\n'
        "FileNotFoundError: [Errno 2] No such file or directory: 'outputs/sweeps/0/spec.json'")


def test_a_child_that_died_shows_its_status_and_its_last_words():
    assert reason_lines(DIED) == ["child exited with status 1 during set-up",
                                  "FileNotFoundError: [Errno 2] No such file or directory: "
                                  "'outputs/sweeps/0/spec.json'"]


def test_a_one_line_reason_is_shown_once_and_no_reason_not_at_all():
    assert reason_lines("already in the store") == ["already in the store"]
    assert reason_lines(None) == [] and reason_lines("") == []


def test_the_run_line_carries_the_cause(capsys):
    with SweepProgress(1, "sweep", "store") as progress:
        progress.finished(1, "batch_size=2", {"status": "failed", "sps": None, "reason": DIED})
        progress.summary(0)
    err = capsys.readouterr().err
    assert "FileNotFoundError" in err and "1 runs: 1 failed" in err


def test_a_note_is_one_line_however_long(capsys):
    with SweepProgress(1, "sweep", "store") as progress:
        progress.note("xeonsweep: continuing " + "x" * 200)
    assert "xeonsweep: continuing " + "x" * 200 + "\n" in capsys.readouterr().err

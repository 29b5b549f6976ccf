"""Machines side by side (`report --by machine`, `--prices`), and rows of several machines in one
store: copied in by hand (adopted into the index on the first load) or with `store merge`."""

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from tests.report_store import EPYC, XEON, write_store
from xeonsweep.report import machines, prices, tables
from xeonsweep.store import cli as store_cli, files as store_files, index as store_index, results

PRICES = f'"{EPYC}": 0.09\nc7i.2xlarge: {{per_hour: 0.36, machine: "{XEON}"}}\n'


@pytest.fixture
def two_stores(tmp_path):
    return write_store(tmp_path / "epyc", machines=(EPYC,)), write_store(tmp_path / "xeon", machines=(XEON,))


def copy_rows_in(source: Path, dest: Path) -> list[str]:
    """What a user does with cp -r: the source's row files land in the destination (its index does not)."""
    copied = []
    for path in source.rglob("*.parquet"):
        relative = path.relative_to(source).as_posix()
        if relative.startswith(store_index.INDEX) or relative == store_files.SCHEMA_FILE:
            continue
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, dest / relative)
        copied.append(relative)
    return copied


def opened_files(monkeypatch) -> list[str]:
    opened = []
    real = store_files.read_file
    monkeypatch.setattr(store_files, "read_file",
                        lambda fs, path, schema: opened.append(path) or real(fs, path, schema))
    return opened


def indexed_files(store) -> dict[str, bool]:
    entries = store_index.read(str(store), pa.schema([]))
    return dict(zip(entries[store_index.FILE].to_pylist(), entries[store_index.ADOPTED].fill_null(False).to_pylist()))


def test_copied_in_rows_are_read_once_then_come_from_the_index(two_stores, monkeypatch):
    epyc, xeon = two_stores
    copied = copy_rows_in(xeon, epyc)
    assert copied and not set(copied) & set(indexed_files(epyc))
    opened = opened_files(monkeypatch)
    first = tables.load(str(epyc))
    assert sorted(Path(p).relative_to(epyc).as_posix() for p in opened) == sorted(copied)
    assert {f: indexed_files(epyc)[f] for f in copied} == {f: True for f in copied}  # adopted
    opened.clear()
    second = tables.load(str(epyc))
    assert opened == []  # the second load reads the index only
    assert len(second) == len(first) == len(results.load(epyc)) and set(second["machine"]) == {EPYC, XEON}
    assert sorted(results.finished_keys(epyc)) == sorted(first.loc[first["status"] == "ok", "run_key"])


def test_a_writer_slow_to_index_its_file_after_a_reader_adopted_it_counts_once(tmp_path):
    store = tmp_path / "store"
    results.write_row({"run_key": "a", "status": "ok", "machine": "m", "model": "tiny", "sps": 1.0}, store, "s")
    journal = store / store_index.INDEX / store_index.JOURNAL
    line = journal.read_bytes()
    journal.write_bytes(b"")  # as if the writer had renamed its file but not yet written its journal line
    assert list(results.load(store, results.SUMMARY_COLUMNS)["run_key"]) == ["a"]  # read, and adopted
    with open(journal, "ab") as late:
        late.write(line)  # the writer's line arrives
    assert list(results.load(store, results.SUMMARY_COLUMNS)["run_key"]) == ["a"]
    assert list(indexed_files(store).values()) == [False]  # the writer's own entry is the one kept
    store_index.replace(str(store), results.SUMMARY_SCHEMA, set(), None)  # folded into the snapshot: still once
    assert len(results.load(store, results.SUMMARY_COLUMNS)) == 1


def test_store_merge_copies_rows_of_two_machines_into_one_indexed_store(two_stores, tmp_path, monkeypatch, capsys):
    epyc, xeon = two_stores
    dest = tmp_path / "all"
    assert store_cli.main(["merge", str(epyc), str(xeon), str(dest)]) == 0
    rows = len(results.load(epyc)) + len(results.load(xeon))
    assert f"({rows} rows) from 2 store(s) into {dest}" in capsys.readouterr().out
    opened = opened_files(monkeypatch)
    frame = tables.load(str(dest))
    assert opened == [] and len(frame) == rows  # indexed as they were copied
    assert store_cli.main(["merge", str(epyc), str(dest)]) == 0  # again: nothing twice
    assert "copied 0 files" in capsys.readouterr().out and len(tables.load(str(dest))) == rows


@pytest.mark.parametrize("args, message", [
    (["nosuch"], "store merge nosuch: no destination; valid: store merge SRC... DEST"),
    (["nosuch", "dest"], "store merge: nosuch is not a results store (no such folder)"),
    (["{epyc}", "{epyc}"], "is the destination itself"),
])
def test_bad_merge_arguments_get_one_line(two_stores, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code = store_cli.main(["merge", *[a.format(epyc=two_stores[0]) for a in args]])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err


def test_by_machine_puts_each_machines_best_config_side_by_side_with_its_cost(two_stores, tmp_path):
    epyc, xeon = two_stores
    copy_rows_in(xeon, epyc)
    frame = tables.load(str(epyc))
    price_file = tmp_path / "prices.yaml"
    price_file.write_text(PRICES)
    side = machines.by_machine(tables.summarize(frame), frame, prices.load(price_file, [EPYC, XEON]))
    offline = side.offline.set_index("machine")
    assert offline.loc[EPYC, "config"] == "ipex" and offline.loc[XEON, "config"] == "openvino"
    assert offline.loc[XEON, "priced_as"] == "c7i.2xlarge"
    # price per hour / (SPS x 3600) x 10^6, the interval from the SPS interval (low cost from high SPS)
    assert offline.loc[EPYC, "cost_per_million"] == pytest.approx(0.09 / (200 * 3600) * 1e6)
    assert offline.loc[EPYC, "cost_low"] == pytest.approx(0.09 / (220 * 3600) * 1e6)
    assert offline.loc[EPYC, "cost_high"] == pytest.approx(0.09 / (180 * 3600) * 1e6)
    xeon_sps = frame[(frame["machine"] == XEON) & (frame["ladder_step"] == "openvino")]["sps"].median()
    assert offline.loc[XEON, "cost_per_million"] == pytest.approx(0.36 / (xeon_sps * 3600) * 1e6)
    assert list(side.offline["machine"]) == [EPYC, XEON]  # cheapest per inference first
    serving = side.serving.set_index("machine")
    assert serving.loc[EPYC, "peak_qps"] == 120.0 and serving.loc[EPYC, "config"] == "batch_size=8"
    assert serving.loc[XEON, "cost_per_million_at_peak"] == pytest.approx(0.36 / (120 * 3600) * 1e6)
    markdown = machines.to_markdown(machines.offline_display(side), "Machines")
    assert f"| {EPYC} | ipex | 200.0 | 180.0-220.0 | 45.0 | - | 0.09 | 0.125 | 0.114-0.139 |" in markdown


def test_report_by_machine_prints_the_table_and_writes_it(two_stores, tmp_path, capsys):
    epyc, xeon = two_stores
    copy_rows_in(xeon, epyc)
    price_file = tmp_path / "prices.yaml"
    price_file.write_text(PRICES)
    out = tmp_path / "report"
    assert tables.main([str(epyc), "--by", "machine", "--prices", str(price_file), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "resnet50: each machine's best config" in printed and "c7i.2xlarge" in printed
    assert "not measured" in printed and str(price_file) in printed
    text = (out / "machines.md").read_text()
    assert "### Machines: resnet50" in text and "### Serving by machine: resnet50" in text
    assert (out / "machines.csv").exists() and (out / "serving-machines.csv").exists()


@pytest.mark.parametrize("text, message", [
    ("- 0.1\n", "holds a list; valid: a mapping of a machine label to a price per hour"),
    ("", "holds nothing; valid:"),
    ("a: [\n", "is not valid YAML"),
    (f'"{EPYC}": 0\n', f"{EPYC}: 0 is not a price; valid: a number > 0 (price per hour)"),
    (f'"{EPYC}": -1.5\n', "-1.5 is not a price"),
    (f'"{EPYC}": cheap\n', "'cheap' is not a price"),
    (f'"{EPYC}": true\n', "True is not a price"),
    ("c7i.xlarge: 0.18\n", f"c7i.xlarge names no machine of the store; machines here: {EPYC}, {XEON}"),
    ('c7i.xlarge: {per_hour: 0.18, machine: "Xeon"}\n', "c7i.xlarge (machine: Xeon) names no machine of the store"),
    ('c7i.xlarge: {per_hour: 0.18}\n', "valid: {per_hour: PRICE, machine: LABEL}"),
    (f'"{EPYC}": 0.1\nx: {{per_hour: 0.2, machine: "{EPYC}"}}\n', f"{EPYC} has two prices (AMD EPYC (2 cores) and x)"),
])
def test_a_bad_price_file_gets_one_line(two_stores, tmp_path, capsys, text, message):
    epyc, xeon = two_stores
    copy_rows_in(xeon, epyc)
    price_file = tmp_path / "prices.yaml"
    price_file.write_text(text)
    assert tables.main([str(epyc), "--prices", str(price_file), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"xeonsweep: --prices {price_file}") and message in err
    assert not (tmp_path / "out").exists()


def test_the_example_price_file_reads(tmp_path):
    from tests.conftest import ROOT

    example = ROOT / "docs" / "prices-example.yaml"
    named = [p.split('machine: "')[1].split('"')[0] for p in example.read_text().splitlines() if "machine: \"" in p]
    priced = prices.load(example, named)
    assert priced and all(p.per_hour > 0 for p in priced.values())
    assert "LIST PRICES, not measurements" in example.read_text() and "source:" in example.read_text()


def test_a_store_of_server_rows_only_has_no_offline_machine_table(tmp_path, capsys):
    from tests.report_store import server_rows

    store = tmp_path / "store"
    for row in server_rows(EPYC):
        results.write_row(row, store, "serving")
    assert tables.main([str(store), "--by", "machine", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "serving, each machine's peak under the SLO" in printed and "best config" in printed

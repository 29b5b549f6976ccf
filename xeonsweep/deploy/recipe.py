"""`xeonsweep recipe STORE (--run RUN_KEY | --best [--where COLUMN=VALUE ...]) --out DIR [--cache DIR]`

Writes a folder that reproduces one row without xeonsweep: run.sh (the environment
the measured child had: deploy.run_script), infer.py (the backend's library alone
on the artifact copied into artifact/: deploy.infer_script), requirements.txt
(pinned to the row's versions) and README.md (what was measured and what to
expect). Everything is checked before anything is written, and the folder appears
whole or not at all (written beside it, then renamed). A row whose artifact is no
longer in the cache gets the xeonsweep command that makes it again instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

from xeonsweep.config.paths import nearest_existing
from xeonsweep.deploy import artifact, choose, infer_script, readme, run_script
from xeonsweep.errors import UserError


def check_out(out: Path) -> None:
    """--out is a new (or empty) folder in a folder this process may write in."""
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise UserError(f"--out {out} already exists and is not an empty folder; choose a new folder")
    existing = nearest_existing(out)
    if not existing.is_dir():
        raise UserError(f"--out {out} cannot be created: {existing} is a file, not a folder; choose another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"--out {out} cannot be created: no write permission on {existing}; choose another --out")


def load(store: str) -> pd.DataFrame:
    from xeonsweep.store import results

    if not results.is_store(store):
        raise UserError(f"{store} is not a results store (no +schema.parquet and no row files in it); "
                        "valid: a results.dir that xeonsweep wrote")
    frame = results.load(store)
    if frame.empty:
        raise UserError(f"{store} has no rows")
    return frame


def chosen_row(args: argparse.Namespace) -> pd.Series:
    frame = load(args.store)
    if args.run:
        if args.where:
            raise UserError("--where picks the best config with --best; --run names one run already")
        return choose.by_run_key(frame, args.run, args.store)
    return choose.best(frame, args.where, args.store)


def contents(row: pd.Series, found: Path, store: str) -> dict[str, str]:
    """The recipe's text files, made before anything is written (a backend without a recipe stops here)."""
    files = artifact.files_beside(row, found)
    return {
        "run.sh": run_script.run_script(row),
        "infer.py": infer_script.infer_script(row, found),
        "requirements.txt": infer_script.requirements(row),
        "README.md": readme.readme(row, files, store),
    }


def write_folder(texts: dict[str, str], files: list[Path], out: Path) -> None:
    """Every file into a hidden folder beside `out`, then one rename: `out` is whole or absent."""
    out.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.absolute().parent))
    try:
        (tmp / "artifact").mkdir()
        for path in files:
            shutil.copy2(path, tmp / "artifact" / path.name)
        for name, text in texts.items():
            (tmp / name).write_text(text)
        (tmp / "run.sh").chmod(0o755)
        tmp.chmod(0o755)
        if out.exists():
            out.rmdir()  # empty (check_out)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="xeonsweep recipe", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("store", metavar="STORE", help="a results.dir")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", metavar="RUN_KEY", help="the run to reproduce (its latest ok row)")
    which.add_argument("--best", action="store_true", help="the ok offline config with the highest median SPS")
    parser.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                        help="with --best: keep rows where the column has this value (repeatable)")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write (new, or empty)")
    parser.add_argument("--cache", help="where the artifact cache is now (default: where the run had it)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        check_out(args.out)
        row = chosen_row(args)
        found = artifact.locate(row, args.store, args.cache)
        texts = contents(row, found, args.store)
    except UserError as exc:
        print(f"xeonsweep: {exc}", file=sys.stderr)
        return 2
    files = artifact.files_beside(row, found)
    write_folder(texts, files, args.out)
    print(f"wrote {args.out}: {', '.join(texts)}, artifact/ ({', '.join(p.name for p in files)}) "
          f"for run {row['run_key']} ({row['model']}, {row['backend']}: "
          f"{row['sps']:.1f} samples/s on {row['machine']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

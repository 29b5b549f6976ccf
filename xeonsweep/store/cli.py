"""`xeonsweep store compact [DIR]`: maintenance of a results store."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="xeonsweep store", description="Maintain a results store.")
    commands = parser.add_subparsers(dest="command", required=True)
    compact = commands.add_parser("compact", help="merge the per-run files into one file (safe while a sweep writes)")
    compact.add_argument("store", nargs="?", default="outputs/results", help="results.dir (a path or a URI)")
    args = parser.parse_args(argv)
    from xeonsweep.errors import UserError
    from xeonsweep.store.compaction import compact as run_compact

    try:
        done = run_compact(args.store)
    except UserError as exc:
        print(f"xeonsweep: store compact: {exc}", file=sys.stderr)
        return 2
    if done["file"]:
        print(f"merged {done['merged_files']} files ({done['rows']} rows) into {done['file']}")
    else:
        print(f"nothing to merge in {args.store}")
    if done["removed_temp_files"]:
        print(f"removed {done['removed_temp_files']} temp files left by killed writers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

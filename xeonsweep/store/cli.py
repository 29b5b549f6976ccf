"""`xeonsweep store compact [DIR]` and `xeonsweep store merge SRC... DEST`: maintenance of results stores."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="xeonsweep store", description="Maintain a results store.")
    commands = parser.add_subparsers(dest="command", required=True)
    compact = commands.add_parser("compact", help="merge the per-run files into one file (safe while a sweep writes)")
    compact.add_argument("store", nargs="?", default="outputs/results", help="results.dir (a path or a URI)")
    merge = commands.add_parser("merge", help="copy the rows of stores (one per machine, say) into one")
    merge.add_argument("stores", nargs="+", metavar="SRC... DEST",
                       help="source stores, then the destination (made if missing)")
    args = parser.parse_args(argv)
    if args.command == "merge":
        return merge_main(args.stores)
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


def merge_main(stores: list[str]) -> int:
    from xeonsweep.errors import UserError
    from xeonsweep.store.merge import merge

    try:
        if len(stores) < 2:
            raise UserError(f"store merge {stores[0]}: no destination; valid: store merge SRC... DEST")
        done = merge(stores[:-1], stores[-1])
    except UserError as exc:
        print(f"xeonsweep: {exc}", file=sys.stderr)
        return 2
    print(f"copied {done['files']} files ({done['rows']} rows) from {done['sources']} store(s) into {stores[-1]}"
          + (f"; {done['already']} were there already" if done["already"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

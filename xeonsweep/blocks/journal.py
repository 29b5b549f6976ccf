"""The block journal: every block a live config measures, kept on disk as soon as it is measured.

Rows are written only when a config's rounds end, so a sweep killed in the
middle of its rounds (kill -9, a lost node, a power cut) would lose every
block measured so far. Each block is therefore appended, as one JSON line, to
a file of its config's own in the store: `_blocks/<host>/<run_key>.jsonl`
(hidden from readers of the store, like `_index/`). The same sweep run again
finds the file, hands its blocks to the new process of the same config, and
goes on from there; once the config's `ok` row is written the file is removed,
its blocks being in the row. One folder per host: run_key names the kind of
machine, and two hosts of one kind must not append to one file.

Only a local store has a journal (an object store has no append).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

FOLDER = "_blocks"


class Journal:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def of_store(cls, store: str) -> Journal | None:
        if "://" in store:
            return None
        return cls(Path(store) / FOLDER / socket.gethostname())

    def path(self, run_key: str) -> Path:
        return self.folder / f"{run_key}.jsonl"

    def earlier(self, run_key: str) -> list[dict]:
        """The blocks an earlier sweep measured for this config and wrote no row for."""
        try:
            lines = self.path(run_key).read_text().splitlines()
        except FileNotFoundError:
            return []
        blocks = []
        for line in lines:
            try:
                blocks.append(json.loads(line))
            except ValueError:  # a line cut short when its writer was killed: that block is gone
                continue
        return blocks

    def continuing(self, run_keys: list[str]) -> str | None:
        """The one line a sweep says when it goes on from blocks an earlier one measured."""
        counts = [n for n in (len(self.earlier(key)) for key in run_keys) if n]
        if not counts:
            return None
        return (f"continuing {len(counts)} config(s) from {sum(counts)} block(s) measured by an earlier sweep "
                f"that stopped before writing their rows (journal: {self.folder})")

    def append(self, run_key: str, block: dict) -> None:
        """One block, on disk before the next one is measured (a block lasts a second or so: fsync is cheap)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.path(run_key), "ab+") as out:
            out.seek(0, os.SEEK_END)
            if out.tell():
                out.seek(-1, os.SEEK_END)
                if out.read(1) != b"\n":  # a line cut short by a kill: this block starts a line of its own
                    out.write(b"\n")
            out.write(json.dumps(block).encode() + b"\n")
            out.flush()
            os.fsync(out.fileno())

    def forget(self, run_key: str) -> None:
        """The config's row holds its blocks now."""
        self.path(run_key).unlink(missing_ok=True)

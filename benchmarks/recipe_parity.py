"""Does a recipe's run.sh reproduce the xeonsweep row it was made from?

For each backend (ONNX Runtime, OpenVINO int8 with NNCF, torch.compile) one
xeonsweep run makes the artifact and its row, `xeonsweep recipe` makes the folder
from that row, then the recipe's run.sh and a fresh xeonsweep run of the same
config (same cache, so the same artifact) are alternated round after round, the
one that goes first swapping each round, each timing the same duration. Prints
the medians and recipe / xeonsweep per backend (goal 0.95 to 1.05). Nothing is
asserted: the cores may be shared.

    .venv/bin/python benchmarks/recipe_parity.py [--model resnet50] [--batch-size 8] [--seconds 15] [--rounds 3]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import alternation  # benchmarks/alternation.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = {
    "onnxruntime": ["backend=onnxruntime"],
    "openvino int8": ["backend=openvino", "quantization=nncf"],
    "compile": ["backend=compile"],
}
WARMUP = 10


def xeonsweep_run(args, overrides: list[str], tmp: Path, n: int):
    """One fresh xeonsweep run of the config into a store of its own; its row."""
    store = tmp / f"results-{n}"
    subprocess.run(
        [sys.executable, "-m", "xeonsweep", f"model={args.model}", f"batch_size={args.batch_size}", *overrides,
         f"benchmark.warmup={WARMUP}", "benchmark.iterations=10", f"benchmark.min_duration_s={args.seconds}",
         f"results.dir={store}", f"cache.dir={tmp / 'cache'}", f"hydra.run.dir={tmp}/runs/{n}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    from xeonsweep.store.results import load

    row = load(store).iloc[-1]
    if row["status"] != "ok":
        raise SystemExit(f"xeonsweep {' '.join(overrides)}: {row['status']}: {row['reason']}")
    return store, row


def make_recipe(store: Path, run_key: str, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "xeonsweep", "recipe", str(store), "--run", run_key, "--out", str(out)],
                   cwd=ROOT, capture_output=True, text=True, check=True)


def recipe_run(args, folder: Path) -> float:
    """The recipe's run.sh from outside the repository, with this environment's Python first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["sh", str(folder / "run.sh"), "--seconds", str(args.seconds), "--warmup", str(WARMUP),
                          "--iterations", "10"],
                         cwd=folder.parent, env=env, capture_output=True, text=True, check=True).stdout
    line = next((line for line in out.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{folder}/run.sh printed no RESULT line:\n" + out[-2000:])
    return float(json.loads(line[len("RESULT "):])["sps"])


def main() -> None:
    args = alternation.arguments(__doc__.splitlines()[0])
    recipe: dict[str, list[float]] = {name: [] for name in BACKENDS}
    ours: dict[str, list[float]] = {name: [] for name in BACKENDS}
    with tempfile.TemporaryDirectory() as tmp:
        n = 0
        for name, overrides in BACKENDS.items():  # makes each artifact once (cached) and the recipe from its row
            store, row = xeonsweep_run(args, overrides, Path(tmp), n := n + 1)
            make_recipe(store, row["run_key"], Path(tmp) / "recipes" / name.replace(" ", "-"))
        machine = row["machine"]
        for turn in range(args.rounds):
            for name, overrides in BACKENDS.items():
                for who in ("recipe", "xeonsweep") if turn % 2 == 0 else ("xeonsweep", "recipe"):
                    if who == "recipe":
                        recipe[name].append(recipe_run(args, Path(tmp) / "recipes" / name.replace(" ", "-")))
                    else:
                        ours[name].append(float(xeonsweep_run(args, overrides, Path(tmp), n := n + 1)[1]["sps"]))
    print(f"{args.model} on {machine}, batch {args.batch_size}, {args.seconds} s per measurement, "
          f"{args.rounds} alternated rounds")
    for name in BACKENDS:
        mine, theirs = statistics.median(recipe[name]), statistics.median(ours[name])
        print(f"{name:14} recipe {mine:8.1f}  xeonsweep {theirs:8.1f} samples/s  "
              f"recipe / xeonsweep {mine / theirs:.3f}  "
              f"(goal 0.95 to 1.05; rounds: recipe {[round(x, 1) for x in recipe[name]]}, "
              f"xeonsweep {[round(x, 1) for x in ours[name]]})")


if __name__ == "__main__":
    main()

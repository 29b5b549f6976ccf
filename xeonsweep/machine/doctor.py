"""`xeonsweep doctor`: what this machine can and cannot do fast, in plain words.

Also run at the start of every sweep, its findings saved in the sweep folder
(doctor.json, doctor.txt). Reads /proc, /sys and installed files only: no torch.
"""

from __future__ import annotations

import glob
import json
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xeonsweep.machine.facts import ISA_FLAGS, CpuInfo, cpu_info, find_library, numa_nodes, thp_mode
from xeonsweep.machine.known_issues import FATAL_ALLOCATOR_WHY
from xeonsweep.machine.versions import versions

ROOT = Path(__file__).resolve().parents[2]
ALLOCATORS = {"tcmalloc": (["libtcmalloc.so.4", "libtcmalloc_minimal.so.4"], "libtcmalloc-minimal4"),
              "jemalloc": (["libjemalloc.so.2"], "libjemalloc2")}
MAIN_LIBRARIES = ("torch", "torchvision", "timm", "onnxruntime", "openvino", "nncf", "torchao", "intel-openmp")


@dataclass
class Report:
    machine: str  # the store's label for this machine (CpuInfo.label)
    cpu_model: str
    sockets: int
    physical_cores: int
    logical_cpus: int
    numa_nodes: int
    isa: dict
    thp_mode: str
    allocators: dict
    openmp: dict
    tools: dict
    environments: dict
    notes: list[str] = field(default_factory=list)


def isa_notes(cpu: CpuInfo) -> list[str]:
    """What will not be fast, or will not run, on this CPU."""
    notes = []
    has = cpu.has
    if has("amx_bf16"):
        notes.append("bf16 is native with AMX tiles: precision=bf16 and OpenVINO's default bf16 should be fastest.")
    elif has("avx512_bf16"):
        notes.append("bf16 has native dot products (AVX512_BF16) but no AMX: "
                     "expect a smaller bf16 gain than on AMX Xeons.")
    else:
        notes.append("bf16 is emulated (no AVX512_BF16, no AMX): precision=bf16 will likely be slower than fp32, "
                     "and OpenVINO runs a bf16 hint in f32.")
    if not (has("avx512_vnni") or has("avx_vnni") or has("amx_int8")):
        notes.append("int8 without VNNI: pt2e uses reduce_range (7-bit activations) and int8 gains are small.")
    elif has("amx_int8"):
        notes.append("int8 is native with AMX: pt2e and NNCF int8 should give the largest speedups.")
    else:
        notes.append("int8 has VNNI dot products (no AMX): int8 should beat fp32 clearly.")
    if not ({"avx512f", "avx512bw", "avx512vl"} <= cpu.flags or has("avx_ne_convert")):
        notes.append("IPEX bf16 weight prepack needs AVX-512: backend=ipex precision=bf16 runs will be skipped.")
    if not has("avx2"):
        notes.append("no AVX2: every backend falls back to slow generic kernels.")
    return notes


def machine_notes(report: Report) -> list[str]:
    notes = []
    if report.thp_mode == "never":
        notes.append("transparent huge pages are off (mode never): thp=true will have no effect.")
    notes.append(f"{FATAL_ALLOCATOR_WHY}: run backend=openvino with allocator=system.")
    for name, path in report.allocators.items():
        if path is None:
            notes.append(f"allocator={name} is not installed: apt-get install {ALLOCATORS[name][1]}.")
    if not report.tools.get("numactl"):
        notes.append("numactl is missing: run_cpu binds cores with taskset and cannot bind memory to a NUMA node.")
    if not report.tools.get("g++"):
        notes.append("no C++ compiler: backend=compile and quantization=pt2e runs will be skipped "
                     "(apt-get install g++).")
    if not report.openmp.get("intel"):
        notes.append("Intel OpenMP (libiomp5) is missing: runtime.intel_openmp=true cannot take effect "
                     "(pip install intel-openmp).")
    for name, env in report.environments.items():
        if not env["present"]:
            notes.append(f"the {name} environment is missing: backend runs that need it fail until `{env['setup']}`.")
    return notes


def installed_versions(site_packages: list[str], names: tuple[str, ...]) -> dict:
    """Versions from *.dist-info folder names, for an environment we do not run."""
    found = {}
    for folder in site_packages:
        for info in glob.glob(f"{folder}/*.dist-info"):
            name, _, version = Path(info).name[: -len(".dist-info")].partition("-")
            if name.lower().replace("_", "-") in names:
                found[name.lower().replace("_", "-")] = version
    return found


def environments() -> dict:
    envs = {"main": {"present": True, "setup": "make setup", "python": sys.executable,
                     "versions": versions(MAIN_LIBRARIES)}}
    ipex = ROOT / ".venv-ipex"
    envs["ipex"] = {
        "present": (ipex / "bin" / "python").exists(), "setup": "make ipex-env", "python": str(ipex / "bin" / "python"),
        "versions": installed_versions(glob.glob(str(ipex / "lib" / "python*" / "site-packages")),
                                       ("torch", "intel-extension-for-pytorch", "torchvision", "timm")),
    }
    return envs


def openmp_runtimes() -> dict:
    venv_lib = Path(sys.prefix) / "lib"
    torch_lib = [p for p in sys.path if p.endswith("site-packages")]
    gomp = [g for p in torch_lib for g in glob.glob(f"{p}/torch/lib/libgomp*.so*")] or \
        [find_library(["libgomp.so.1"])]
    return {"gnu": gomp[0] if gomp and gomp[0] else None,
            "intel": str(venv_lib / "libiomp5.so") if (venv_lib / "libiomp5.so").exists() else None}


def examine(cpu: CpuInfo | None = None) -> Report:
    cpu = cpu or cpu_info()
    report = Report(
        machine=cpu.label, cpu_model=cpu.model, sockets=cpu.sockets, physical_cores=cpu.physical_cores,
        logical_cpus=cpu.logical_cpus,
        numa_nodes=numa_nodes(), isa={flag: cpu.has(flag) for flag in ISA_FLAGS}, thp_mode=thp_mode(),
        allocators={name: find_library(libs) for name, (libs, _) in ALLOCATORS.items()},
        openmp=openmp_runtimes(),
        tools={tool: shutil.which(tool) for tool in ("numactl", "taskset", "g++")},
        environments=environments(),
    )
    report.notes = isa_notes(cpu) + machine_notes(report)
    return report


def render(report: Report) -> str:
    yes = lambda v: "yes" if v else "no"  # noqa: E731
    lines = [
        f"CPU          {report.machine}",
        f"cores        {report.physical_cores} physical, {report.logical_cpus} logical, {report.sockets} socket(s), "
        f"{report.numa_nodes} NUMA node(s)",
        "ISA          " + ", ".join(f"{flag} {yes(v)}" for flag, v in report.isa.items()
                                   if flag in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16",
                                               "amx_bf16", "amx_int8")),
        f"THP          {report.thp_mode}",
        "allocators   " + ", ".join(f"{n}: {p or 'missing'}" for n, p in report.allocators.items()),
        "OpenMP       " + ", ".join(f"{n}: {p or 'missing'}" for n, p in report.openmp.items()),
        "tools        " + ", ".join(f"{n}: {p or 'missing'}" for n, p in report.tools.items()),
    ]
    for name, env in report.environments.items():
        versions = ", ".join(f"{k} {v}" for k, v in sorted(env["versions"].items()))
        lines.append(f"env {name:8} {'ok' if env['present'] else 'missing (' + env['setup'] + ')'}: {versions}")
    lines.append("")
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines)


def save(report: Report, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "doctor.json").write_text(json.dumps(asdict(report), indent=2))
    (folder / "doctor.txt").write_text(render(report) + "\n")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="xeonsweep doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    args = parser.parse_args(argv)
    report = examine()
    print(json.dumps(asdict(report), indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

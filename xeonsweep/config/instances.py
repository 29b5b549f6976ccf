"""How many model instances a run starts, and with how many cores each.

xeonsweep decides this itself and passes it to run_cpu explicitly
(--ninstances, --ncores-per-instance): run_cpu's own --latency-mode and
--throughput-mode rules differ between torch versions (torch 2.8's latency mode
starts no instance on fewer than 4 cores, torch 2.14's starts one with the
rest), and the worker must know the count to make its instances overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from xeonsweep.machine.facts import CpuInfo, numa_nodes

# run_cpu's latency mode: instances of 4 physical cores each, as many as fit.
LATENCY_CORES_PER_INSTANCE = 4


@dataclass(frozen=True)
class InstancePlan:
    count: int
    cores_each: int | None  # None: run_cpu splits the cores evenly


def plan(run: dict, cpu: CpuInfo, nodes: int | None = None) -> InstancePlan:
    """The instances `run` starts on `cpu` (with `nodes` NUMA nodes; default: this machine's)."""
    runtime = run["runtime"]
    if runtime["name"] != "run_cpu":
        return InstancePlan(1, None)
    mode = runtime.get("mode")
    if mode == "latency":
        return InstancePlan(cpu.physical_cores // LATENCY_CORES_PER_INSTANCE, LATENCY_CORES_PER_INSTANCE)
    if mode == "throughput":  # one instance per NUMA node, with that node's cores
        nodes = max(1, min(nodes or numa_nodes(), cpu.physical_cores))
        return InstancePlan(nodes, cpu.physical_cores // nodes)
    return InstancePlan(run["workers"], runtime.get("ncores_per_instance"))


def mode_problem(run: dict, cpu: CpuInfo) -> str | None:
    """Why `runtime.mode` cannot run here, or None."""
    runtime = run["runtime"]
    mode = runtime.get("mode")
    if runtime["name"] != "run_cpu" or not mode:
        return None
    if runtime.get("ncores_per_instance") is not None or runtime.get("use_logical_core"):
        return (f"runtime.mode={mode} chooses the instances' physical cores itself; use it with "
                "runtime.ncores_per_instance=null and runtime.use_logical_core=false")
    if plan(run, cpu).count < 1:
        return (f"runtime.mode=latency starts no instance on this machine: its instances have "
                f"{LATENCY_CORES_PER_INSTANCE} physical cores each and this machine has {cpu.physical_cores}; "
                "valid here: runtime.mode=throughput or null")
    return None

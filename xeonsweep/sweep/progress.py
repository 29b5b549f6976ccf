"""What a person sees while a sweep runs: run i of N, its config, its result."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

STYLE = {"ok": "green", "failed": "red", "timeout": "red", "skipped": "yellow", "done": "dim", "error": "red",
         "INVALID": "red"}


def shown_status(summary: dict) -> str:
    """The run's status, or INVALID for a LoadGen run measured (ok) but short of its SLO (its reason says why)."""
    return summary.get("verdict") or summary["status"]


class SweepProgress:
    def __init__(self, total: int, sweep_id: str, store: str) -> None:
        self.console = Console(stderr=True)
        self.total, self.sweep_id, self.store = total, sweep_id, store
        self.rows: list[tuple[str, dict]] = []
        self.bar = Progress(
            TextColumn("[bold]sweep[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=self.console, transient=True,
        )
        self.task = self.bar.add_task("", total=total)

    def __enter__(self) -> SweepProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def machine(self, report) -> None:
        isa = ", ".join(flag for flag, present in report.isa.items() if present) or "no AVX2"
        self.console.print(f"[bold]{report.cpu_model}[/], {report.physical_cores} cores, {isa}; THP {report.thp_mode}")
        for note in report.notes:
            self.console.print(f"  [dim]- {note}[/]")

    def starting(self, index: int, config: str) -> None:
        self.bar.update(self.task, description=f"run {index}/{self.total}: {config}")

    def status(self, text: str) -> None:
        """What a live-worker sweep is doing now (setting a config up, which round)."""
        self.bar.update(self.task, description=text)

    def note(self, line: str) -> None:
        """A line that stays, above the bar."""
        self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def finished(self, index: int, config: str, summary: dict) -> None:
        if index > self.total:  # the common reference of memory groups has a row per group
            self.total = index
            self.bar.update(self.task, total=index)
        status = shown_status(summary)
        sps = f"{summary['sps']:.1f} SPS" if summary.get("sps") is not None else ""
        if summary.get("ci_half_width_pct") is not None:
            sps += f" ±{summary['ci_half_width_pct']:.1f}%"
        self.bar.console.print(
            f"[{index}/{self.total}] [{STYLE.get(status, '')}]{status:<7}[/] {sps:>19}  {config}"
            + "".join(f"\n          {line}" for line in reason_lines(summary.get("reason")))
        )
        self.bar.advance(self.task)
        self.rows.append((config, summary))

    def lost(self, count: int, why: str) -> None:
        first = why.strip().splitlines()[0] if why.strip() else why
        self.bar.console.print(f"[red]lost {count} run(s) with their job: {first}[/]")
        self.bar.advance(self.task, count)

    def summary(self, already_done: int, lost: int = 0, merged: list[str] | None = None) -> None:
        counts = Counter(shown_status(s) for _, s in self.rows)
        table = Table(title=f"sweep {self.sweep_id}", show_lines=False)
        for column in ("config", "status", "SPS"):
            table.add_column(column, justify="right" if column == "SPS" else "left")
        for config, s in self.rows:
            sps = f"{s['sps']:.1f}" if s.get("sps") is not None else "-"
            if s.get("ci_half_width_pct") is not None:
                sps += f" ±{s['ci_half_width_pct']:.1f}%" + ("" if s.get("target_met") else f" ({short_of(s)})")
            status = shown_status(s)
            table.add_row(config or "(defaults)", f"[{STYLE.get(status, '')}]{status}[/]", sps)
        if self.rows:
            self.console.print(table)
        parts = [f"{counts[k]} {k}" for k in ("ok", "INVALID", "failed", "timeout", "skipped", "error") if counts[k]]
        missed = [s for _, s in self.rows if s["status"] == "ok" and s.get("target_met") is False]
        if any(s.get("goal") in (None, "precision") for s in missed):
            parts.append(f"{len(missed)} short of the confidence target "
                         "(more benchmark.budget_s, or a larger target_ci_pct)")
        elif missed:
            parts.append(f"{len(missed)} left open by the goal {missed[0]['goal']} (more benchmark.budget_s)")
        if lost:
            parts.append(f"{lost} lost with their job (run the same command again to run them)")
        if already_done:
            parts.append(f"{already_done} already in the store (results.rerun=true runs them again)")
        if merged:
            parts.append(f"{len(merged)} config(s) ran once with an equal one: they differ only in settings that do "
                         "not apply to them (their backend or model ignores them; see not_applicable) "
                         f"({'; '.join(merged)})")
        self.console.print(f"{len(self.rows)} runs: {', '.join(parts) or 'nothing to do'}; results in {self.store}")


def reason_lines(reason: str | None) -> list[str]:
    """What a run's reason shows under it: its first line and, when the child's stderr follows, that
    tail's last line (a child that died says why there: "child exited with status 1" alone does not).
    An ok row's reason says a live config missed its confidence target."""
    lines = [line.strip() for line in (reason or "").splitlines() if line.strip()]
    return lines[:1] + lines[-1:] if len(lines) > 1 else lines


def short_of(summary: dict) -> str:
    """What a config measured in blocks did not reach, by its sweep's benchmark.goal."""
    return "target not met" if summary.get("goal") in (None, "precision") else "left open"

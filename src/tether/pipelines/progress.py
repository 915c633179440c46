"""A live Rich table of step states, for pipelines run from a terminal."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from tether.pipelines.context import StepEvent

_STYLES = {
    "waiting": "[dim]waiting[/]",
    "started": "[cyan]running[/]",
    "retrying": "[yellow]retrying[/]",
    "ran": "[green]ran[/]",
    "cached": "[yellow]cached[/]",
    "failed": "[red]failed[/]",
    "killed": "[red]killed[/]",
    "skipped": "[dim]skipped[/]",
}


@dataclass
class _Row:
    status: str = "waiting"
    started: float = 0.0
    seconds: float | None = None
    detail: str = ""


class LiveView:
    """Show one row per step call that updates as the step starts and ends.

    Use it as the pipeline's reporter, inside a ``with`` block:

    >>> with LiveView() as view:
    ...     build.run(path, reporter=view)

    On a terminal that is not interactive (a CI log) Rich prints the final
    table once instead of redrawing it.
    """

    def __init__(self, console: Console | None = None, title: str = "steps") -> None:
        # The console writes to the stream that is stdout now. A run started
        # later wraps sys.stdout to capture it, and a console that followed
        # sys.stdout would then write its frames into its own capture.
        self.console = Console(
            file=sys.stdout,
            force_terminal=console.is_terminal if console else None,
            width=console.width if console else None,
        )
        self.title = title
        self.rows: dict[str, _Row] = {}
        # Rich's stdout redirection would wrap sys.stdout in a proxy that
        # writes back through the console. With the run's capture around that
        # proxy, every write would loop forever in a terminal.
        self._live = Live(
            self._table(),
            console=self.console,
            refresh_per_second=8,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def __enter__(self) -> LiveView:
        self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.rows:
            # Nothing ran (the graph could not be built): print no empty table.
            self._live.update("")
        else:
            self._live.update(self._table())
        self._live.stop()
        if not self.console.is_terminal:
            # Rich leaves the cursor after the last frame's final border.
            self.console.line()

    def __call__(self, event: StepEvent) -> None:
        row = self.rows.setdefault(event.step, _Row())
        row.status = event.status
        if event.status == "started":
            row.started = time.perf_counter()
            row.detail = f"run {event.run_id}"
        elif event.status == "cached":
            row.detail = f"reused run {event.cached_from}"
        elif event.status in ("ran", "failed", "killed"):
            row.seconds = event.seconds
            row.detail = event.message or f"run {event.run_id}"
        elif event.status == "retrying":
            row.detail = f"attempt {event.attempt} failed: {event.message}"
        self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(title=self.title, title_justify="left", expand=False)
        table.add_column("step")
        table.add_column("state")
        table.add_column("seconds", justify="right")
        table.add_column("detail", overflow="fold")
        now = time.perf_counter()
        for label, row in self.rows.items():
            if row.seconds is not None:
                seconds = f"{row.seconds:.1f}"
            elif row.status == "started":
                seconds = f"{now - row.started:.1f}"
            else:
                seconds = ""
            table.add_row(
                escape(label),
                _STYLES.get(row.status, row.status),
                seconds,
                escape(row.detail),
            )
        return table

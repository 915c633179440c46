"""``tether agent``: a long-running process that starts scheduled pipelines.

Every poll the agent looks for what is due: cron ticks that passed, dataset
versions and alert events that appeared since the schedule was added. Each
is claimed by inserting a firing row whose (schedule, key) pair is unique, so
it runs once however often the agent restarts or however many agents run. A
firing that was running when its agent died is marked ``interrupted`` and not
run again; ``tether pipeline resume`` continues its pipeline run.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from tether.ids import new_id
from tether.pipelines.references import load_pipeline
from tether.store import get_store
from tether.store.schedule_ops import ScheduleRecord

logger = logging.getLogger("tether.agent")

DEFAULT_POLL_SECONDS = 10.0


@dataclass(frozen=True)
class Due:
    """Something that makes a schedule fire: its unique key and the pipeline's input."""

    key: str
    value: str | None


class Agent:
    """Poll the store for due schedules and run their pipelines, one at a time."""

    def __init__(self, poll_seconds: float = DEFAULT_POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self.host = socket.gethostname()
        self.id = f"{self.host}:{os.getpid()}:{new_id()}"
        self.stopping = threading.Event()

    def run(self, *, once: bool = False) -> None:
        """Run until SIGTERM, SIGINT or :meth:`stop`; with ``once``, poll one time."""
        logger.info(
            "agent %s started; polling every %.1f s", self.id, self.poll_seconds
        )
        self.recover()
        previous = _install_stop_handlers(self)
        try:
            while not self.stopping.is_set():
                self.poll()
                if once:
                    break
                self.stopping.wait(self.poll_seconds)
        finally:
            _restore_handlers(previous)
            logger.info("agent %s stopped", self.id)

    def stop(self) -> None:
        """Stop after the pipeline that is running, if any."""
        self.stopping.set()

    def recover(self) -> int:
        """Mark running firings of agents on this host that died as interrupted."""
        store = get_store()
        names = {schedule.id: schedule.name for schedule in store.list_schedules()}
        count = 0
        for firing in store.list_firings(status="running"):
            host, _, rest = firing.agent.partition(":")
            pid = rest.partition(":")[0]
            if host != self.host or not pid.isdigit() or _alive(int(pid)):
                continue
            message = (
                f"agent {firing.agent} stopped while the pipeline ran; continue it with "
                f"tether pipeline resume {firing.run_id}"
            )
            store.update_firing(firing.id, status="interrupted", error=message)
            logger.warning(
                "firing %s of schedule %s was interrupted: %s",
                firing.fire_key,
                names.get(firing.schedule_id, firing.schedule_id),
                message,
            )
            count += 1
        return count

    def poll(self, now: datetime | None = None) -> list[str]:
        """Start every due firing; return the pipeline run ids started."""
        moment = now or datetime.now(UTC)
        started: list[str] = []
        for schedule in get_store().list_schedules():
            if not schedule.enabled:
                continue
            try:
                due = _due(schedule, moment)
            except Exception:
                logger.exception(
                    "schedule %s: cannot compute what is due", schedule.name
                )
                continue
            for item in due:
                if self.stopping.is_set():
                    return started
                run_id = self.fire(schedule, item)
                if run_id is not None:
                    started.append(run_id)
        return started

    def fire(self, schedule: ScheduleRecord, due: Due) -> str | None:
        """Claim and run one firing; return the pipeline run id, or None if claimed before."""
        store = get_store()
        firing = store.claim_firing(schedule.id, due.key, self.id)
        if firing is None:
            return None

        run_id = new_id()
        store.update_firing(firing, run_id=run_id)
        arguments: dict[str, Any] = dict(schedule.params)
        if schedule.input_param:
            arguments[schedule.input_param] = due.value
        logger.info(
            "schedule %s fired (%s): starting %s as run %s",
            schedule.name,
            due.key,
            schedule.target,
            run_id,
        )

        try:
            pipeline = load_pipeline(schedule.target, fresh=True)
            pipeline.run(executor=schedule.executor, run_id=run_id, **arguments)
        except KeyboardInterrupt:
            store.update_firing(firing, status="killed", error="interrupted")
            logger.warning("schedule %s: run %s interrupted", schedule.name, run_id)
            raise
        except Exception as exc:
            store.update_firing(
                firing, status="failed", error=f"{type(exc).__name__}: {exc}"
            )
            logger.error(
                "schedule %s: run %s failed: %s: %s",
                schedule.name,
                run_id,
                type(exc).__name__,
                exc,
            )
            return run_id

        store.update_firing(firing, status="finished")
        logger.info("schedule %s: run %s finished", schedule.name, run_id)
        return run_id


def _due(schedule: ScheduleRecord, now: datetime) -> list[Due]:
    fired = get_store().fired_keys(schedule.id)
    if schedule.trigger == "cron":
        return _cron_due(schedule, now, fired)
    if schedule.trigger == "dataset":
        return _dataset_due(schedule, fired)
    return _alert_due(schedule, fired)


def _cron_due(schedule: ScheduleRecord, now: datetime, fired: set[str]) -> list[Due]:
    """Return the latest tick that passed and has not fired.

    Ticks missed while no agent ran are not run one by one: only the latest
    is, so an agent that was down for a week runs a daily job once.
    """
    from croniter import croniter

    latest = croniter(schedule.spec, now).get_prev(datetime)
    if latest < schedule.created_at:
        return []
    key = latest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if key in fired or any(existing > key for existing in fired):
        return []
    return [Due(key, key)]


def _dataset_due(schedule: ScheduleRecord, fired: set[str]) -> list[Due]:
    from tether.errors import NotFoundError

    try:
        versions = get_store().list_dataset_versions(schedule.spec)
    except NotFoundError:
        return []
    found = [
        Due(f"{v.name}@{v.version}", v.uri)
        for v in sorted(versions, key=lambda v: v.version)
        if v.created_at >= schedule.created_at
    ]
    return [due for due in found if due.key not in fired]


def _alert_due(schedule: ScheduleRecord, fired: set[str]) -> list[Due]:
    events = get_store().alert_events(schedule.spec, schedule.created_at)
    return [Due(event.id, event.id) for event in events if event.id not in fired]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _install_stop_handlers(agent: Agent) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum: int, frame: FrameType | None) -> None:
        logger.info("agent %s: received signal %d, stopping", agent.id, signum)
        agent.stop()

    return {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}


def _restore_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)

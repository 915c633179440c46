"""Alias history: the version each alias pointed at over time, from the audit trail."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from tether.store import get_store


@dataclass(frozen=True)
class AliasChange:
    """One move or removal of an alias.

    ``version`` is None when the alias was removed; ``forced`` when the move
    overrode failed or missing tests, with the ``reason`` given.
    """

    time: datetime
    actor: str
    alias: str
    version: int | None
    previous: int | None
    forced: bool = False
    reason: str = ""


@dataclass(frozen=True)
class AliasPeriod:
    """A span of time during which ``alias`` pointed at ``version``.

    ``end`` is None while the alias still points there. ``actor``,
    ``forced`` and ``reason`` describe the move that started the span.
    """

    alias: str
    version: int
    start: datetime
    end: datetime | None
    actor: str
    forced: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the period as JSON-compatible data."""
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat() if self.end else None
        return data


def alias_history(name: str) -> list[AliasChange]:
    """Return every move and removal of every alias of model ``name``, oldest first."""
    store = get_store()
    store.list_model_versions(name, include_deleted=True)
    changes = []
    for event in store.audit_trail(f"models:/{name}@"):
        if event.action not in ("set_alias", "remove_alias"):
            continue
        details = event.details
        changes.append(
            AliasChange(
                time=event.time,
                actor=event.actor,
                alias=event.entity.partition("@")[2],
                version=details.get("to_version"),
                previous=details.get("from_version"),
                forced=bool(details.get("forced")),
                reason=str(details.get("reason", "")),
            )
        )
    return changes


def alias_periods(name: str) -> list[AliasPeriod]:
    """Return, per alias, the spans during which each version held it, oldest first."""
    periods: list[AliasPeriod] = []
    open_periods: dict[str, AliasPeriod] = {}
    for change in alias_history(name):
        current = open_periods.pop(change.alias, None)
        if current is not None:
            periods.append(_closed(current, change.time))
        if change.version is not None:
            open_periods[change.alias] = AliasPeriod(
                change.alias,
                change.version,
                change.time,
                None,
                change.actor,
                change.forced,
                change.reason,
            )
    periods.extend(open_periods.values())
    return sorted(periods, key=lambda p: (p.alias, p.start))


def _closed(period: AliasPeriod, end: datetime) -> AliasPeriod:
    return AliasPeriod(
        period.alias,
        period.version,
        period.start,
        end,
        period.actor,
        period.forced,
        period.reason,
    )

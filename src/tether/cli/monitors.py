"""``tether monitor create|list|run``, ``tether monitor rules`` and ``tether monitor alerts``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tether.cli.render import check_format, print_json, table

FORMAT_HELP = "Output format: text or json."

rules_app = typer.Typer(help="Alert rules on a monitor's values.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the monitor, rule and alert commands to the ``tether monitor`` app."""
    app.command("create")(create_command)
    app.command("list")(list_command)
    app.command("run")(run_command)
    app.command("alerts")(alerts_command)
    app.command("governance")(governance_command)
    app.command("report")(report_command)
    app.add_typer(rules_app, name="rules")


def _names(text: str | None) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


def create_command(
    name: str = typer.Argument(..., help="The monitor's name."),
    model: str = typer.Option(..., "--model", help="The registered model's name."),
    reference: str = typer.Option(
        ..., "--reference", help="Reference data: datasets:/NAME@VERSION."
    ),
    features: str | None = typer.Option(
        None, help="Comma-separated feature columns; default: the shared columns."
    ),
    categorical: str | None = typer.Option(
        None, help="Comma-separated columns to test as categories."
    ),
    every: str = typer.Option("month", help="The window: hour, day or month."),
    window_rows: int | None = typer.Option(
        None, "--window-rows", help="Windows of N rows in time order instead."
    ),
    time_column: str = typer.Option(
        "logged_at", help="The log column that places a row in a window."
    ),
    score_column: str = typer.Option(
        "probability", help="The logged probability column; 'none' to skip."
    ),
    labels: str = typer.Option(
        "feedback",
        help="Labels: feedback (POST /feedback), a dataset URI joined on --key, or none.",
    ),
    key: str | None = typer.Option(
        None, help="The column that joins a labels dataset."
    ),
    label_column: str = typer.Option("label", help="The label's column."),
    version: int | None = typer.Option(
        None, help="Watch one version; default: every version."
    ),
    since: str | None = typer.Option(
        None, help="Only predictions logged at or after this ISO 8601 time."
    ),
    method: str = typer.Option(
        "auto", help="Drift method: auto, ks, chi2, psi, wasserstein or jensen_shannon."
    ),
    sensitive: str | None = typer.Option(
        None, help="Comma-separated columns whose groups get fairness values."
    ),
    cron: str | None = typer.Option(
        None, "--cron", help="Run it from `tether agent` on this UTC cron schedule."
    ),
    on_dataset: str | None = typer.Option(
        None, "--on-dataset", help="Run it from `tether agent` for every new version."
    ),
    report_dir: str | None = typer.Option(
        None, "--report-dir", help="Scheduled runs write their report here."
    ),
    correction: str = typer.Option(
        "bonferroni", help="Multiple-testing correction: bonferroni, bh or none."
    ),
) -> None:
    """Create a monitor, or replace the settings of one (its history stays)."""
    from tether.automation.monitor_runs import create_monitor
    from tether.monitoring.monitors import MonitorSpec

    spec = MonitorSpec(
        model=model,
        reference=reference,
        features=_names(features),
        categorical=_names(categorical),
        every=every,
        time_column=time_column,
        score_column=None if score_column == "none" else score_column,
        label_column=label_column,
        labels=None if labels == "none" else labels,
        key=key,
        version=version,
        since=since,
        window_rows=window_rows,
        method=method,
        correction=correction,
        sensitive=_names(sensitive),
    )
    if cron or on_dataset:
        from tether.pipelines.schedules import check_trigger

        # A bad trigger fails before anything is saved.
        check_trigger(cron=cron, on_dataset=on_dataset)
    create_monitor(name, spec)
    windows = f"{window_rows} rows" if window_rows else every
    typer.echo(f"monitor {name} watches {model} against {reference}, by {windows}")
    if cron or on_dataset:
        schedule = _reschedule(name, cron, on_dataset, report_dir)
        typer.echo(
            f"schedule {schedule} runs it; start `tether agent` to run schedules"
        )


def _reschedule(
    name: str, cron: str | None, on_dataset: str | None, report_dir: str | None
) -> str:
    """Replace the monitor's schedule; return the schedule's name."""
    import contextlib

    from tether.automation.monitor_pipeline import schedule_monitor
    from tether.errors import NotFoundError
    from tether.store import get_store

    with contextlib.suppress(NotFoundError):
        get_store().remove_schedule(f"monitor-{name}")
    record = schedule_monitor(
        name, cron=cron, on_dataset=on_dataset, report_dir=report_dir
    )
    return record.name


def list_command(
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """List monitors with their model, reference and window."""
    from tether.store import get_store

    check_format(output, ["text", "json"])
    store = get_store()
    rows = []
    for monitor in store.list_monitors():
        windows = store.window_results(monitor.name)
        rows.append(
            {
                "name": monitor.name,
                "model": monitor.model,
                "reference": monitor.spec.get("reference"),
                "every": monitor.spec.get("every"),
                "windows": len(windows),
                "newest_window": windows[-1].window if windows else None,
                "rules": len(store.list_alert_rules(monitor.name)),
            }
        )
    if output == "json":
        print_json(rows)
        return
    columns = [
        "name",
        "model",
        "reference",
        "every",
        "windows",
        "newest_window",
        "rules",
    ]
    table("monitors", columns, [[row[c] for c in columns] for row in rows])


def run_command(
    name: str = typer.Argument(..., help="The monitor's name."),
    report_dir: Path | None = typer.Option(
        None, "--report-dir", help="Also write NAME.html and NAME.json here."
    ),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Compute every window of a monitor, store it, and act on new alerts."""
    from tether.automation.monitor_runs import run_monitor

    check_format(output, ["text", "json"])
    run = run_monitor(name, report_dir=report_dir)
    windows = [
        {
            "window": window,
            "rows": values.get("rows"),
            "drift_share": values.get("drift.share"),
            "drifted_columns": values.get("drift.drifted_columns"),
            "roc_auc": values.get("performance.roc_auc"),
        }
        for window, values in run.computed.values.items()
    ]
    alerts = {
        "fired": [_alert_row(a) for a in run.alerts.fired],
        "resolved": [_alert_row(a) for a in run.alerts.resolved],
        "recorded": [_alert_row(a) for a in run.alerts.recorded],
        "actions": run.alerts.actions,
    }
    if output == "json":
        print_json(
            {
                "monitor": name,
                "logged_rows": run.logged_rows,
                "labelled_rows": run.labelled_rows,
                "windows": windows,
                "alerts": alerts,
            }
        )
        return
    columns = ["window", "rows", "drift_share", "drifted_columns", "roc_auc"]
    table(f"monitor {name}", columns, [[w[c] for c in columns] for w in windows])
    typer.echo(
        f"{run.logged_rows:,} logged predictions, {run.labelled_rows:,} with a label"
    )
    for alert in run.alerts.fired:
        typer.echo(
            f"alert {alert.rule} fired for {_subject(alert.subject)} at {alert.first_window}"
        )
    for alert in run.alerts.resolved:
        typer.echo(
            f"alert {alert.rule} resolved for {_subject(alert.subject)} at {alert.last_window}"
        )
    for outcome in run.alerts.actions:
        state = "ok" if outcome["ok"] else "failed"
        typer.echo(f"  {outcome['type']} action {state}: {outcome['detail']}")


def alerts_command(
    rule: str | None = typer.Option(None, "--rule", help="Alerts of this rule only."),
    state: str | None = typer.Option(None, "--state", help="firing or resolved."),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """List alerts, newest first."""
    from tether.store import get_store

    check_format(output, ["text", "json"])
    if state is not None:
        check_format(state, ["firing", "resolved"])
    rows = [_alert_row(a) for a in get_store().list_alerts(rule=rule, state=state)]
    if output == "json":
        print_json(rows)
        return
    columns = [
        "rule",
        "subject",
        "state",
        "severity",
        "first_window",
        "last_window",
        "value",
        "actions",
    ]
    table("alerts", columns, [[row[c] for c in columns] for row in rows])


def report_command(
    name: str = typer.Argument(..., help="The monitor's name."),
    html_path: Path | None = typer.Option(
        None, "--html", help="Write the HTML page here."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Write the JSON here."),
) -> None:
    """Write a monitor's report from its log, with its stored alerts; stores nothing."""
    from tether.automation.monitor_runs import compute_named, write_report
    from tether.errors import ConfigError

    if html_path is None and json_path is None:
        raise ConfigError(
            "give --html PATH, --json PATH or both to say where to write the report",
            setting="html",
            value=None,
        )
    _, _, computed = compute_named(name)
    write_report(name, computed, html_path, json_path)
    for path in (html_path, json_path):
        if path is not None:
            typer.echo(f"wrote {path}")


def governance_command(
    model: str = typer.Argument(..., help="The registered model's name."),
    html_path: Path | None = typer.Option(
        None, "--html", help="Write the HTML page here."
    ),
    json_path: Path | None = typer.Option(None, "--json", help="Write the JSON here."),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Write a model's governance report: versions, tests, approvals, monitoring, alerts."""
    from tether.monitoring.governance import governance_report

    check_format(output, ["text", "json"])
    report = governance_report(model)
    if output == "json":
        print_json(report.to_dict())
        return
    firing = sum(1 for alert in report.alerts if alert["state"] == "firing")
    typer.echo(
        f"model {model}: {len(report.versions)} versions, {len(report.monitors)} "
        f"monitors, {len(report.alerts)} alerts ({firing} firing), "
        f"{len(report.events)} audit events"
    )
    if html_path is not None:
        typer.echo(f"wrote {report.to_html(html_path)}")
    if json_path is not None:
        typer.echo(f"wrote {report.to_json(json_path)}")


def _subject(subject: str) -> str:
    return f"column {subject}" if subject else "the table"


def _alert_row(alert: Any) -> dict[str, Any]:
    """Return an alert as ``alert_dict`` does, with each action as ``TYPE: ok|failed``."""
    from tether.monitoring.governance import alert_dict

    row = alert_dict(alert)
    row["actions"] = [
        f"{o.get('type')}: {'ok' if o.get('ok') else 'failed'}" for o in alert.actions
    ]
    return row


@rules_app.command("add")
def rules_add_command(
    name: str = typer.Argument(..., help="The rule's name."),
    monitor: str = typer.Option(
        ..., "--monitor", help="The monitor whose values it reads."
    ),
    metric: str = typer.Option(
        ..., "--metric", help="A value such as drift.share or drift.columns.*.effect."
    ),
    operator: str = typer.Option(">", "--operator", help="One of > >= < <= == !=."),
    threshold: float = typer.Option(
        ..., "--threshold", help="The value compared against."
    ),
    windows: int = typer.Option(
        1, "--windows", help="Breaching windows in a row before it fires."
    ),
    severity: str = typer.Option(
        "warning", "--severity", help="info, warning or critical."
    ),
    webhook: list[str] = typer.Option(
        [], "--webhook", help="POST the alert to this URL. Repeatable."
    ),
    pipeline: str | None = typer.Option(
        None, "--pipeline", help="Start this pipeline (MODULE:NAME) when it fires."
    ),
    rollback: str | None = typer.Option(
        None, "--rollback", help="Roll back this deployment when it fires."
    ),
    alias: str | None = typer.Option(
        None, "--alias", help="Move an alias when it fires: MODEL:ALIAS:VERSION."
    ),
) -> None:
    """Add an alert rule; its actions run in the order webhooks, pipeline, rollback, alias."""
    from tether.config import current_user
    from tether.monitoring.alert_rules import AlertRule
    from tether.store import get_store

    get_store().get_monitor(monitor)  # an unknown monitor fails here, not at firing
    rule = AlertRule(
        name=name,
        monitor=monitor,
        metric=metric,
        operator=operator,
        threshold=threshold,
        windows=windows,
        severity=severity,
        actions=_actions(webhook, pipeline, rollback, alias),
    )
    get_store().add_alert_rule(
        rule.name,
        monitor=rule.monitor,
        metric=rule.metric,
        operator=rule.operator,
        threshold=rule.threshold,
        windows=rule.windows,
        severity=rule.severity,
        actions=rule.actions,
        actor=current_user(),
    )
    typer.echo(f"rule {name} on monitor {monitor}: {rule.describe()}")


def _actions(
    webhooks: list[str], pipeline: str | None, rollback: str | None, alias: str | None
) -> list[dict[str, Any]]:
    from tether.errors import ConfigError

    actions: list[dict[str, Any]] = [
        {"type": "webhook", "url": url} for url in webhooks
    ]
    if pipeline:
        actions.append({"type": "pipeline", "target": pipeline})
    if rollback:
        actions.append({"type": "rollback", "deployment": rollback})
    if alias:
        parts = alias.split(":")
        if len(parts) != 3 or not parts[2].isdigit():
            raise ConfigError(
                f"invalid --alias {alias!r}; give MODEL:ALIAS:VERSION, e.g. "
                "flight-delay:champion:3",
                setting="alias",
                value=alias,
            )
        actions.append(
            {
                "type": "alias",
                "model": parts[0],
                "alias": parts[1],
                "version": int(parts[2]),
            }
        )
    return actions


@rules_app.command("list")
def rules_list_command(
    monitor: str | None = typer.Option(
        None, "--monitor", help="Rules of this monitor only."
    ),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """List alert rules."""
    from tether.automation.alerting import rule_of
    from tether.store import get_store

    check_format(output, ["text", "json"])
    rows = [
        {
            "name": r.name,
            "monitor": r.monitor,
            "condition": rule_of(r).describe(),
            "severity": r.severity,
            "actions": [a["type"] for a in r.actions],
            "enabled": r.enabled,
        }
        for r in get_store().list_alert_rules(monitor)
    ]
    if output == "json":
        print_json(rows)
        return
    columns = ["name", "monitor", "condition", "severity", "actions"]
    table("alert rules", columns, [[row[c] for c in columns] for row in rows])


@rules_app.command("remove")
def rules_remove_command(
    name: str = typer.Argument(..., help="The rule's name."),
) -> None:
    """Remove an alert rule and its alerts (the audit trail keeps their history)."""
    from tether.config import current_user
    from tether.store import get_store

    get_store().remove_alert_rule(name, actor=current_user())
    typer.echo(f"removed rule {name}")

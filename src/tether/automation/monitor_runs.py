"""Create and run monitors: read the log, compute the windows, store them, act on alerts.

:func:`run_monitor` is what ``tether monitor run NAME`` and the agent call.
It reads every logged prediction of the monitor's model, joins the labels
(``POST /feedback`` rows, or a dataset joined on a key column), computes
each window (``tether.monitoring.monitors``), stores each window's values
(computing a window again replaces it), and evaluates the monitor's alert
rules (``tether.automation.alerting``), which run the actions of new alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tether.automation.alerting import AlertChanges, evaluate_alerts
from tether.monitoring.monitors import (
    ComputedMonitor,
    MonitorSpec,
    compute_monitor,
    logged_since,
    reference_frame,
)
from tether.store import get_store
from tether.store.alert_ops import MonitorWindow
from tether.store.time import utcnow

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorRun:
    """One run of a monitor.

    Attributes:
        computed: The report and each window's values.
        alerts: What the alert rules changed.
        logged_rows: Logged predictions read.
        labelled_rows: Of those, rows with a label.
    """

    name: str
    computed: ComputedMonitor
    alerts: AlertChanges
    logged_rows: int
    labelled_rows: int


def create_monitor(name: str, spec: MonitorSpec) -> None:
    """Store monitor ``name``, or replace its spec (its window history stays)."""
    from tether.monitoring.alert_rules import AlertRule

    # The rule checks apply to monitor names too.
    AlertRule(name="check", monitor=name, metric="rows", operator=">", threshold=0)
    get_store().save_monitor(name, spec.model, spec.to_dict())


def run_monitor(name: str, *, report_dir: str | Path | None = None) -> MonitorRun:
    """Compute every window of monitor ``name``, store them and evaluate its rules.

    Args:
        report_dir: Also write ``NAME.html`` and ``NAME.json`` reports here,
            with the alerts as they are after this run.

    Raises:
        NotFoundError: No monitor, model or dataset of that name.
        DataError: The model has no logged predictions.
    """
    spec, logged, computed = compute_named(name)
    _store_windows(name, computed)
    alerts = evaluate_alerts(name)
    if report_dir is not None:
        folder = Path(report_dir)
        write_report(name, computed, folder / f"{name}.html", folder / f"{name}.json")
    label = spec.label_column
    labelled = int(logged[label].notna().sum()) if label in logged.columns else 0
    return MonitorRun(name, computed, alerts, len(logged), labelled)


def compute_named(name: str) -> tuple[MonitorSpec, pd.DataFrame, ComputedMonitor]:
    """Read the log of monitor ``name`` and compute its windows, storing nothing."""
    from tether.monitoring.logged import load_predictions

    spec = MonitorSpec.from_dict(get_store().get_monitor(name).spec)
    logged = logged_since(load_predictions(spec.model, spec.version), spec.since)
    logged = with_labels(spec, logged)
    reference = reference_frame(spec.reference)
    if not logged.empty:
        reference = scored_reference(spec, reference, logged)
    computed = compute_monitor(
        spec, logged, reference, title=f"monitor {name}: model {spec.model}"
    )
    return spec, logged, computed


def write_report(
    name: str,
    computed: ComputedMonitor,
    html_path: str | Path | None,
    json_path: str | Path | None,
) -> None:
    """Write the monitor's report: windows, history charts, integrity and alerts."""
    from tether.monitoring.governance import alert_dict
    from tether.monitoring.monitor_report import (
        monitor_report_sections,
        write_monitor_json,
    )

    store = get_store()
    alerts = [
        alert_dict(alert)
        for rule in store.list_alert_rules(name)
        for alert in store.list_alerts(rule=rule.name)
    ]
    report = computed.report
    report.extra_sections = monitor_report_sections(computed.values, alerts)
    if html_path is not None:
        report.to_html(html_path)
    if json_path is not None:
        written = report.to_json(json_path)
        write_monitor_json(written, written, computed.values, alerts)


def _store_windows(name: str, computed: ComputedMonitor) -> None:
    now = utcnow()
    get_store().replace_window_results(
        name,
        [
            MonitorWindow(
                monitor=name,
                window=window,
                start=computed.bounds[window][0],
                end=computed.bounds[window][1],
                rows=len(computed.frames[window]),
                values=values,
                created_at=now,
            )
            for window, values in computed.values.items()
        ],
    )


def with_labels(spec: MonitorSpec, logged: pd.DataFrame) -> pd.DataFrame:
    """Join the monitor's labels (feedback or a labels data set) to logged predictions."""
    if logged.empty or spec.labels is None or spec.label_column is None:
        return logged
    if spec.labels == "feedback":
        return _binary_labels(_feedback_labels(spec, logged), spec.label_column)
    import tether.data
    from tether.monitoring.windows import join_labels

    assert spec.key is not None
    truth = tether.data.load(spec.labels)
    return join_labels(logged, truth, key=spec.key, label=spec.label_column)


def _binary_labels(logged: pd.DataFrame, label: str) -> pd.DataFrame:
    """Read feedback labels as 0/1: booleans, numbers and their text.

    A label that is not 0 or 1 (or true or false) cannot score a binary
    classifier, so it is left out with a warning instead of failing the run.
    """
    import pandas as pd

    if label not in logged.columns:
        return logged
    raw = logged[label]
    text = raw.map(lambda v: str(v).strip().lower() if v is not None else v)
    mapped = text.map(
        {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "1.0": 1.0, "0.0": 0.0}
    )
    unreadable = raw.notna() & mapped.isna()
    if unreadable.any():
        examples = ", ".join(repr(v) for v in raw[unreadable].unique()[:5])
        logger.warning(
            "%d feedback labels are not 0/1 or true/false (%s); they are left out",
            int(unreadable.sum()),
            examples,
        )
    result = logged.copy()
    result[label] = pd.to_numeric(mapped, errors="coerce")
    return result


def _feedback_labels(spec: MonitorSpec, logged: pd.DataFrame) -> pd.DataFrame:
    """Join ``POST /feedback`` labels by request id and row; the newest label wins."""
    import pandas as pd

    from tether.serving.feedback import read_feedback

    folders = sorted(
        {
            Path(p).parent
            for p in get_store().prediction_log_paths(spec.model, spec.version)
        }
    )
    frames = [read_feedback(folder) for folder in folders]
    feedback = pd.concat(
        [f for f in frames if not f.empty] or [pd.DataFrame()], ignore_index=True
    )
    label = spec.label_column
    assert label is not None
    if feedback.empty:
        return logged
    feedback = feedback.sort_values("received_at", kind="stable")
    by_row = feedback.dropna(subset=["row"]).drop_duplicates(
        ["request_id", "row"], keep="last"
    )
    whole = feedback[feedback["row"].isna()].drop_duplicates("request_id", keep="last")
    result = logged.drop(columns=[label], errors="ignore")
    rows = by_row.astype({"row": "int64"})[["request_id", "row", "label"]]
    result = result.merge(rows, on=["request_id", "row"], how="left")
    whole_labels = whole.set_index("request_id")["label"]
    missing = result["label"].isna()
    result.loc[missing, "label"] = result.loc[missing, "request_id"].map(whole_labels)
    return result.rename(columns={"label": label}) if label != "label" else result


def _serving_version(logged: pd.DataFrame) -> int | None:
    """Return the version that served most of the logged rows."""
    if "model_version" not in logged.columns or logged.empty:
        return None
    counts = logged["model_version"].dropna().astype(str).value_counts()
    digits = [v for v in counts.index if v.isdigit()]
    return int(digits[0]) if digits else None


def scored_reference(
    spec: MonitorSpec, reference: pd.DataFrame, logged: pd.DataFrame
) -> pd.DataFrame:
    """Add the model's probabilities to the reference when it lacks them.

    Prediction drift compares the logged scores with the reference's, so a
    reference without them is scored with the monitored version, or else
    the version that served most of the logged rows, once per run.
    """
    score = spec.score_column
    if score is None or score in reference.columns:
        return reference
    import tether.models

    version = spec.version or _serving_version(logged)
    if version is None:
        return reference
    model = tether.models.load(f"models:/{spec.model}/{version}")
    columns = model.signature.input_names
    if not set(columns) <= set(reference.columns):
        logger.info(
            "the reference lacks input columns of %s; no prediction drift", spec.model
        )
        return reference
    probabilities = model.predict_proba(reference[columns])
    if probabilities is None or probabilities.ndim != 1:
        return reference
    scored = reference.copy()
    scored[score] = probabilities
    return scored

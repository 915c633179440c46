"""Declared data quality checks, suites in Python or YAML, and their reports.

A check is a frozen dataclass built by one of the helpers (:func:`in_range`,
:func:`not_null`, :func:`regex`, :func:`distribution`, ...) or read from a YAML
suite with :func:`load_suite`. :func:`validate` runs a :class:`Suite` on a
frame and returns a :class:`QualityReport` with every failure, its count of
failing rows and example rows. A failed check with severity ``"error"`` makes
the report not ``ok``, and :meth:`QualityReport.raise_for_errors` (or
``validate(..., raise_on_error=True)``) turns that into a
:class:`DataQualityError`. A failed ``"warning"`` check is only reported.
:func:`infer_suite` proposes a suite from a reference frame.

Every check is vectorised with numpy, pandas or pyarrow, so its cost does not
include a Python loop over rows.
"""

from __future__ import annotations

from tether.data.quality.base import Check, ColumnCheck
from tether.data.quality.column_checks import (
    DTYPE_KINDS,
    AllowedValuesCheck,
    DtypeCheck,
    NotNullCheck,
    RangeCheck,
    RegexCheck,
    allowed_values,
    dtype,
    in_range,
    not_null,
    regex,
)
from tether.data.quality.distribution import (
    DEFAULT_THRESHOLDS,
    DistributionCheck,
    distribution,
)
from tether.data.quality.freshness import FreshnessCheck, freshness, parse_duration
from tether.data.quality.infer import infer_suite
from tether.data.quality.results import (
    MAX_EXAMPLES,
    CheckResult,
    Severity,
    failing_examples,
)
from tether.data.quality.suite import (
    DataQualityError,
    QualityReport,
    Suite,
    record_in_active_run,
    validate,
)
from tether.data.quality.table_checks import (
    ColumnsPresentCheck,
    RowCountCheck,
    UniqueCheck,
    columns_present,
    row_count,
    unique,
)
from tether.data.quality.yaml_suite import (
    CHECK_TYPES,
    dump_suite,
    load_suite,
    parse_suite,
    suite_from_dict,
    suite_to_dict,
)

__all__ = [
    "CHECK_TYPES",
    "DEFAULT_THRESHOLDS",
    "DTYPE_KINDS",
    "MAX_EXAMPLES",
    "AllowedValuesCheck",
    "Check",
    "CheckResult",
    "ColumnCheck",
    "ColumnsPresentCheck",
    "DataQualityError",
    "DistributionCheck",
    "DtypeCheck",
    "FreshnessCheck",
    "NotNullCheck",
    "QualityReport",
    "RangeCheck",
    "RegexCheck",
    "RowCountCheck",
    "Severity",
    "Suite",
    "UniqueCheck",
    "allowed_values",
    "columns_present",
    "distribution",
    "dtype",
    "dump_suite",
    "failing_examples",
    "freshness",
    "in_range",
    "infer_suite",
    "load_suite",
    "not_null",
    "parse_duration",
    "parse_suite",
    "record_in_active_run",
    "regex",
    "row_count",
    "suite_from_dict",
    "suite_to_dict",
    "unique",
    "validate",
]

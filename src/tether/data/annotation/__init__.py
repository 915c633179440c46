"""Annotation: labelling tasks, versioned annotation sets, Label Studio files,
active learning and agreement between annotators.

See docs/data-annotation.md for the data model and the formulas.
"""

from __future__ import annotations

from tether.data.annotation.active_learning import (
    STRATEGIES,
    select_next,
    uncertainty,
)
from tether.data.annotation.agreement import (
    AgreementReport,
    agreement_report,
    cohen_kappa,
    fleiss_kappa,
)
from tether.data.annotation.label_studio import (
    LabelStudioImport,
    export_label_studio,
    import_label_studio,
    labeling_config,
    read_label_studio,
    to_label_studio,
)
from tether.data.annotation.labels import (
    add_annotations,
    labelled_task_ids,
    latest_labels,
    load_annotations,
)
from tether.data.annotation.probabilities import ClassProbabilities, align_probabilities
from tether.data.annotation.review import consensus, label_errors
from tether.data.annotation.tasks import TaskSet, create_tasks, load_tasks, task_id

__all__ = [
    "STRATEGIES",
    "AgreementReport",
    "ClassProbabilities",
    "LabelStudioImport",
    "TaskSet",
    "add_annotations",
    "agreement_report",
    "align_probabilities",
    "cohen_kappa",
    "consensus",
    "create_tasks",
    "export_label_studio",
    "fleiss_kappa",
    "import_label_studio",
    "label_errors",
    "labeling_config",
    "labelled_task_ids",
    "latest_labels",
    "load_annotations",
    "load_tasks",
    "read_label_studio",
    "select_next",
    "task_id",
    "to_label_studio",
    "uncertainty",
]

"""Tests for runs: status, nesting, metrics, artifacts, logs and source capture."""

from __future__ import annotations

import json
import math
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import blake3
import pytest

import tether
from tether.artifacts import get_objects
from tether.errors import ConfigError, DataError
from tether.store import get_store
from tether.store.records import ArtifactRecord
from tether.tracking import output, writer

GIT_IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@e"]


def _git(repo: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit of ``train.py``, as the working directory."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "-c", "init.defaultBranch=main", "init", "--quiet")
    (repo / "train.py").write_text("print('training')\n")
    _git(repo, "add", "train.py")
    _git(repo, *GIT_IDENTITY, "commit", "--quiet", "-m", "Add training script")
    monkeypatch.chdir(repo)
    return repo


def _artifacts(run_id: str) -> dict[str, ArtifactRecord]:
    return {record.path: record for record in get_store().list_artifacts(run_id)}


def _artifact_text(run_id: str, path: str) -> str:
    return get_objects().read_bytes(_artifacts(run_id)[path].digest).decode()


def test_run_context_sets_finished(tether_home: Path) -> None:
    with tether.start_run(experiment="exp", name="first") as run:
        pass
    record = get_store().get_run(run.id)
    assert record.status == "FINISHED"
    assert record.experiment == "exp"
    assert record.name == "first"
    assert record.error is None
    assert record.end_time is not None


def test_run_exception_sets_failed(tether_home: Path) -> None:
    with pytest.raises(ValueError, match="bad learning rate"):  # noqa: SIM117
        with tether.start_run() as run:
            raise ValueError("bad learning rate")
    record = get_store().get_run(run.id)
    assert record.status == "FAILED"
    assert record.error == "ValueError: bad learning rate"
    assert tether.active_run() is None


def test_interrupted_run_is_killed(tether_home: Path) -> None:
    with pytest.raises(KeyboardInterrupt), tether.start_run() as run:
        raise KeyboardInterrupt
    record = get_store().get_run(run.id)
    assert record.status == "KILLED"
    assert record.error == "interrupted"


def test_nested_run_gets_parent(tether_home: Path) -> None:
    with tether.start_run(experiment="outer-exp") as outer:
        with tether.start_run(name="inner") as inner:
            assert tether.active_run() is inner
        assert tether.active_run() is outer
    assert inner.parent_id == outer.id
    assert get_store().get_run(inner.id).parent_id == outer.id
    assert get_store().get_run(outer.id).parent_id is None
    assert get_store().get_run(inner.id).experiment == "outer-exp"


def test_unnested_run_has_no_parent(tether_home: Path) -> None:
    with tether.start_run(), tether.start_run(nested=False) as detached:
        pass
    assert get_store().get_run(detached.id).parent_id is None


def test_log_metric_without_run(tether_home: Path) -> None:
    with pytest.raises(ConfigError, match="no active run"):
        tether.log_metric("loss", 0.5)


def test_metrics_buffered_until_flush(
    tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long interval keeps the background writer from flushing mid-test.
    monkeypatch.setattr(writer, "FLUSH_INTERVAL_SECONDS", 60.0)
    values = [0.9, 0.7, 0.4, 0.35]
    with tether.start_run() as run:
        for value in values:
            tether.log_metric("loss", value)
        assert get_store().metric_history(run.id, "loss") == []
        tether.flush()
        history = get_store().metric_history(run.id, "loss")
        assert [point.value for point in history] == values
        assert [point.step for point in history] == [0, 1, 2, 3]


def test_metrics_written_at_run_end(
    tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "FLUSH_INTERVAL_SECONDS", 60.0)
    with tether.start_run() as run:
        for step in range(50):
            run.log_metric("accuracy", step / 100)
        assert get_store().metric_history(run.id, "accuracy") == []
    history = get_store().metric_history(run.id, "accuracy")
    assert [point.value for point in history] == [step / 100 for step in range(50)]
    assert get_store().get_run(run.id).metrics == {"accuracy": 0.49}


class SlowLock:
    """A lock that the background metric writer takes only after a delay.

    The delay widens the window between the writer taking a batch from the
    buffer and writing it, so a flush that does not wait for the batch shows.
    """

    def __init__(self, delay_seconds: float) -> None:
        self._lock = threading.Lock()
        self.delay_seconds = delay_seconds

    def __enter__(self) -> None:
        if threading.current_thread().name == "tether-metrics":
            time.sleep(self.delay_seconds)
        self._lock.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()


def test_run_end_waits_for_background_batch(
    tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "FLUSH_INTERVAL_SECONDS", 60.0)
    with tether.start_run() as run:
        metric_writer = writer.writer_for(get_store())
        monkeypatch.setattr(metric_writer, "_write_lock", SlowLock(0.3))
        for step in range(5):
            run.log_metric("loss", float(step))
        metric_writer._wake.set()
        deadline = time.monotonic() + 5
        while metric_writer._count and time.monotonic() < deadline:
            time.sleep(0.01)
    history = get_store().metric_history(run.id, "loss")
    assert [point.value for point in history] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_failed_write_keeps_every_point(
    tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "FLUSH_INTERVAL_SECONDS", 60.0)
    store = get_store()
    write_batches = store.write_pending
    with tether.start_run(capture_output=False) as first:
        first.log_metric("loss", 0.5)
        with tether.start_run(capture_output=False) as second:
            second.log_metric("loss", 0.25)

            def fail(batches: object) -> None:
                raise OSError("disk I/O error")

            monkeypatch.setattr(store, "write_pending", fail)
            with pytest.raises(OSError, match="disk I/O error"):
                tether.flush()
            monkeypatch.setattr(store, "write_pending", write_batches)
            tether.flush()
    assert [p.value for p in store.metric_history(first.id, "loss")] == [0.5]
    assert [p.value for p in store.metric_history(second.id, "loss")] == [0.25]


def test_failed_run_end_keeps_points_and_status(
    tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "FLUSH_INTERVAL_SECONDS", 60.0)
    store = get_store()
    end_run = store.end_run

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk I/O error")

    run = tether.start_run(capture_output=False)
    run.log_metric("loss", 0.5)
    monkeypatch.setattr(store, "end_run", fail)
    with pytest.raises(OSError, match="disk I/O error"):
        run.end()
    monkeypatch.setattr(store, "end_run", end_run)
    assert store.get_run(run.id).status == "RUNNING"
    tether.flush()
    assert [p.value for p in store.metric_history(run.id, "loss")] == [0.5]


def test_metric_step_counts_per_key(tether_home: Path) -> None:
    with tether.start_run() as run:
        tether.log_metric("loss", 1.0)
        tether.log_metric("loss", 0.5)
        tether.log_metric("auc", 0.6)
        tether.log_metric("loss", 0.25)
        tether.log_metric("auc", 0.7, step=10)
        tether.log_metric("auc", 0.8)
    loss = get_store().metric_history(run.id, "loss")
    auc = get_store().metric_history(run.id, "auc")
    assert [point.step for point in loss] == [0, 1, 2]
    assert [point.step for point in auc] == [0, 10, 11]
    assert [point.value for point in auc] == [0.6, 0.7, 0.8]


def test_log_metrics_share_step(tether_home: Path) -> None:
    with tether.start_run() as run:
        tether.log_metrics({"loss": 0.3, "auc": 0.8}, step=4)
    view = tether.get_run(run.id)
    assert view.metrics == {"loss": 0.3, "auc": 0.8}
    assert [point.step for point in view.metric_history("loss")] == [4]
    assert [point.step for point in view.metric_history("auc")] == [4]


def test_nan_metric_reads_back_nan(tether_home: Path) -> None:
    with tether.start_run() as run:
        tether.log_metric("loss", float("nan"))
        tether.log_metric("loss", 0.5)
    history = get_store().metric_history(run.id, "loss")
    assert len(history) == 2
    assert math.isnan(history[0].value)
    assert history[1].value == 0.5


def test_nan_latest_metric_is_nan(tether_home: Path) -> None:
    with tether.start_run() as run:
        tether.log_metric("loss", math.nan)
    assert math.isnan(get_store().get_run(run.id).metrics["loss"])


@pytest.mark.parametrize("value", ["high", None, [0.5]])
def test_non_number_metric_rejected(tether_home: Path, value: object) -> None:
    with tether.start_run(), pytest.raises(ConfigError, match="metric 'loss' must be"):
        tether.log_metric("loss", value)  # type: ignore[arg-type]


def test_params_and_tags_stored(tether_home: Path) -> None:
    with tether.start_run() as run:
        tether.log_param("max_depth", 6)
        tether.log_params({"optimizer": "adam", "rate": 0.01})
        tether.set_tag("team", "flights")
    record = get_store().get_run(run.id)
    assert record.params == {"max_depth": "6", "optimizer": "adam", "rate": "0.01"}
    assert record.tags == {"team": "flights"}


def test_tag_none_rejected(tether_home: Path) -> None:
    with tether.start_run() as run:
        with pytest.raises(ConfigError, match="tag 'reviewer' has the value None"):
            tether.set_tag("reviewer", None)
        tether.set_tag("reviewer", "")
    assert get_store().get_run(run.id).tags == {"reviewer": ""}


def test_stdout_stored_as_log(tether_home: Path) -> None:
    with tether.start_run() as run:
        print("epoch 1 done")
        print("epoch 2 done")
    record = _artifacts(run.id)["logs/stdout.txt"]
    assert record.role == "log"
    assert _artifact_text(run.id, "logs/stdout.txt") == "epoch 1 done\nepoch 2 done\n"


def test_long_output_truncated(
    tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output, "MAX_CAPTURED_CHARS", 10)
    with tether.start_run() as run:
        print("0123456789abcdef")
    assert _artifact_text(run.id, "logs/stdout.txt") == (
        "0123456789\n[output truncated at 10 characters]\n"
    )


def test_capture_disabled_stores_no_log(tether_home: Path) -> None:
    with tether.start_run(capture_output=False) as run:
        print("not kept")
    assert "logs/stdout.txt" not in _artifacts(run.id)


def test_log_artifact_file(tether_home: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_bytes(b"auc 0.81\n")
    with tether.start_run() as run:
        record = run.log_artifact(report, "reports/report.txt")
    assert record.digest == blake3.blake3(b"auc 0.81\n").hexdigest()
    assert record.is_dir is False
    assert record.size == 9
    assert record.media_type == "text/plain"
    assert _artifacts(run.id)["reports/report.txt"] == record
    assert get_objects().read_bytes(record.digest) == b"auc 0.81\n"


def test_log_artifact_folder(tether_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plots"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"first")
    (folder / "nested" / "b.txt").write_bytes(b"second!")
    with tether.start_run() as run:
        record = run.log_artifact(folder)
    assert record.path == "plots"
    assert record.is_dir is True
    assert record.size == 12
    manifest = get_objects().manifest(record.digest)
    assert manifest == [
        {"path": "a.txt", "digest": blake3.blake3(b"first").hexdigest(), "size": 5},
        {
            "path": "nested/b.txt",
            "digest": blake3.blake3(b"second!").hexdigest(),
            "size": 7,
        },
    ]
    restored = get_objects().get_dir(record.digest, tmp_path / "restored")
    assert (restored / "nested" / "b.txt").read_bytes() == b"second!"


def test_log_missing_artifact_raises(tether_home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "absent.csv"
    with tether.start_run() as run, pytest.raises(DataError, match=r"absent\.csv"):
        run.log_artifact(missing)


def test_log_dict_round_trips(tether_home: Path) -> None:
    data = {"layers": [64, 32], "dropout": 0.2, "name": "mlp", "extra": None}
    with tether.start_run() as run:
        record = run.log_dict(data, "config.json")
    assert record.media_type == "application/json"
    assert json.loads(get_objects().read_bytes(record.digest)) == data


def test_git_commit_recorded(tether_home: Path, git_repo: Path) -> None:
    head = _git(git_repo, "rev-parse", "HEAD")
    with tether.start_run() as run:
        pass
    git = get_store().get_run(run.id).source["git"]
    assert git["commit"] == head
    assert git["dirty"] is False
    assert git["branch"] == "main"
    assert git["error"] is None
    assert Path(git["root"]) == git_repo.resolve()
    assert "code/diff.patch" not in _artifacts(run.id)


def test_git_dirty_diff_stored(tether_home: Path, git_repo: Path) -> None:
    (git_repo / "train.py").write_text("print('training with a new seed')\n")
    with tether.start_run() as run:
        pass
    git = get_store().get_run(run.id).source["git"]
    assert git["dirty"] is True
    diff = _artifact_text(run.id, "code/diff.patch")
    assert "-print('training')" in diff
    assert "+print('training with a new seed')" in diff


def test_outside_git_repository(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    probe = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=plain, capture_output=True
    )
    assert probe.returncode != 0, "the folder must not be inside a git repository"
    monkeypatch.chdir(plain)
    with tether.start_run() as run:
        tether.log_metric("loss", 0.5)
    record = get_store().get_run(run.id)
    assert record.source["git"]["error"] == "not a git repository"
    assert record.source["git"]["commit"] is None
    assert record.status == "FINISHED"
    assert record.metrics == {"loss": 0.5}


def test_remote_credentials_removed(tether_home: Path, git_repo: Path) -> None:
    remote = "https://user:secret@example.invalid/r.git"
    _git(git_repo, "remote", "add", "origin", remote)
    with tether.start_run() as run:
        pass
    source = get_store().get_run(run.id).source
    assert source["git"]["remote"] == "https://example.invalid/r.git"
    assert "secret" not in json.dumps(source)


def test_environment_recorded(tether_home: Path) -> None:
    with tether.start_run() as run:
        pass
    environment = get_store().get_run(run.id).source["environment"]
    assert environment["python"] == platform.python_version()
    assert environment["package_count"] > 0
    requirements = _artifact_text(run.id, "environment/requirements.txt")
    assert "pandas==" in requirements
    assert len(requirements.splitlines()) == environment["package_count"]


def test_sigterm_marks_run_killed(tether_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "terminated.py"
    script.write_text(
        "import os, signal, time\n"
        "import tether\n"
        "with tether.start_run(experiment='signals', name='victim') as run:\n"
        "    print(run.id, flush=True)\n"
        "    tether.log_metric('loss', 0.5)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
    )
    completed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    run_id = completed.stdout.split()[0]
    record = get_store().get_run(run_id)
    history = get_store().metric_history(run_id, "loss")
    assert completed.returncode != 0
    assert "terminated by SIGTERM" in completed.stderr
    assert record.status == "KILLED"
    assert record.error == "terminated by SIGTERM"
    assert [point.value for point in history] == [0.5]


@pytest.mark.sql_store  # it checks blobs with `tether doctor`, which runs beside the database
def test_dead_process_run_marked_failed(tether_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(
        "import os, signal\n"
        "import tether\n"
        "run = tether.start_run(experiment='crash', name='victim')\n"
        "tether.log_metric('loss', 0.25)\n"
        "tether.flush()\n"
        "print(run.id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    completed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    run_id = completed.stdout.split()[0]
    assert completed.returncode == -9
    assert get_store().get_run(run_id).status == "RUNNING"

    with tether.start_run(experiment="crash", name="next"):
        pass
    record = get_store().get_run(run_id)
    assert record.status == "FAILED"
    assert record.error is not None
    assert "ended without finishing the run" in record.error
    assert [point.value for point in get_store().metric_history(run_id, "loss")] == [
        0.25
    ]


def test_live_process_run_left_alone(tether_home: Path) -> None:
    from tether.tracking.liveness import fail_dead_runs

    with tether.start_run(experiment="alive") as run:
        assert fail_dead_runs(get_store()) == []
        assert get_store().get_run(run.id).status == "RUNNING"


@pytest.mark.sql_store  # it checks blobs with `tether doctor`, which runs beside the database
def test_sigkill_keeps_flushed_points(tether_home: Path, tmp_path: Path) -> None:
    from tether.artifacts import get_objects
    from tether.doctor import run_checks
    from tether.tracking.writer import FLUSH_INTERVAL_SECONDS

    script = tmp_path / "killed_later.py"
    script.write_text(
        "import os, signal, time\n"
        "import tether\n"
        "run = tether.start_run(experiment='crash', name='victim')\n"
        "for step in range(100):\n"
        "    tether.log_metric('loss', step / 100, step=step)\n"
        "print(run.id, flush=True)\n"
        f"time.sleep({FLUSH_INTERVAL_SECONDS * 3})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    completed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    run_id = completed.stdout.split()[0]
    history = get_store().metric_history(run_id, "loss")
    assert completed.returncode == -9
    # Points logged more than one flush interval before the kill are stored.
    assert [point.step for point in history] == list(range(100))
    assert all(check.ok for check in run_checks(get_store(), get_objects()))


def test_system_metrics_sampled(tether_home: Path) -> None:
    with tether.start_run(experiment="system", system_metrics=0.05) as run:
        assert run.sampler is not None
        deadline = time.monotonic() + 10
        while run.sampler.samples < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    metrics = get_store().get_run(run.id).metrics
    history = get_store().metric_history(run.id, "system/memory_rss_mb")
    assert len(history) >= 3
    assert metrics["system/memory_rss_mb"] > 10
    assert metrics["system/cpu_percent"] >= 0
    assert "system/memory_available_mb" in metrics


def test_zero_timestamp_kept(tether_home: Path) -> None:
    with tether.start_run(experiment="times") as run:
        run.log_metric("loss", 1.0, timestamp=0.0)
    (point,) = get_store().metric_history(run.id, "loss")
    assert point.timestamp == 0.0


def test_params_and_tags_are_buffered_until_flush(
    tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "FLUSH_INTERVAL_SECONDS", 60.0)
    store = get_store()
    with tether.start_run(capture_output=False) as run:
        run.log_params({"depth": 6, "lr": 0.1})
        run.set_tags({"team": "ops"})
        run.log_param("depth", 7)
        before = store.get_run(run.id)
        tether.flush()
        after = store.get_run(run.id)
        run.set_tag("team", "ml")
    ended = store.get_run(run.id)
    assert (before.params, before.tags) == ({}, {})
    assert after.params == {"depth": "7", "lr": "0.1"}
    assert after.tags == {"team": "ops"}
    assert ended.tags == {"team": "ml"}
    assert ended.status == "FINISHED"


def test_bad_param_raises_at_the_call(tether_home: Path) -> None:
    with tether.start_run(capture_output=False) as run:
        with pytest.raises(ConfigError, match="above the limit of 65535"):
            run.log_params({"ok": 1, "long": "x" * 65_536})
        with pytest.raises(ConfigError, match="NUL character"):
            run.set_tag("note", "a\x00b")
        run.log_param("kept", "y" * 65_535)
    params = get_store().get_run(run.id).params
    assert sorted(params) == ["kept"]
    assert len(params["kept"]) == 65_535


def test_unpaired_surrogate_value_raises_at_the_call(tether_home: Path) -> None:
    with tether.start_run(capture_output=False) as run:
        with pytest.raises(ConfigError, match="unpaired surrogate '\\\\ud800' at"):
            run.log_param("p", "a\ud800")
        with pytest.raises(ConfigError, match="unpaired surrogate"):
            run.set_tag("t", "\udfff")
        run.log_param("ok", "é")
    assert get_store().get_run(run.id).params == {"ok": "é"}


@pytest.mark.parametrize(
    ("value", "step", "message"),
    [
        (10**400, 0, "too large for a 64-bit float"),
        (1.0, 1.5, "must be a whole number, got 1.5"),
        (1.0, True, "must be a whole number, got True"),
        (1.0, 2**63, "outside the 64-bit integer range"),
    ],
)
def test_bad_metric_value_or_step_rejected(
    tether_home: Path, value: object, step: object, message: str
) -> None:
    with tether.start_run(capture_output=False) as run:
        with pytest.raises(ConfigError, match=re.escape(message)):
            run.log_metric("loss", value, step=step)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match=re.escape(message)):
            run.log_metrics({"ok": 0.5, "loss": value}, step=step)  # type: ignore[arg-type]
    assert get_store().get_run(run.id).metrics == {}

"""Tests for `tether models package` and for serving a packaged folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tether
from cli_helpers import one_line_error, run_json
from tether import config
from tether.artifacts import get_objects
from tether.errors import ConfigError, DataError
from tether.models.loading import input_example, model_files
from tether.models.package_requirements import dependency_pins, tether_source_tree
from tether.models.packaged import load_package
from tether.models.packaging import PackagedModel
from tether.serving.prediction_log import read_predictions
from tether.store.records import ModelVersionRecord
from tether.testing.plugin import _reset as reset_tether

MODEL_NAME = "credit_risk"
KUBERNETES_NAME = "credit-risk-v1"
IMAGE = "registry.example.com/team/credit-risk:1"
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
MODEL_FILES = ["input_example.parquet", "model.skops", "tether-model.json"]


def _training_frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, size=60).astype("int64"),
            "income": rng.normal(1.0, 1.5, size=60),
        }
    )


def _register(name: str = MODEL_NAME) -> ModelVersionRecord:
    frame = _training_frame()
    labels = ((frame["income"] + frame["age"] / 40) > 2.0).astype("int64")
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, labels)
    with tether.start_run():
        return tether.models.register_model(
            model, name, input_example=frame.head(8), metrics={"auc": 0.91}
        )


@dataclass(frozen=True)
class Packaged:
    """A registered version packaged twice, and what the registry predicts for it."""

    record: ModelVersionRecord
    result: PackagedModel
    again: PackagedModel
    stored_files: dict[str, bytes]
    example: pd.DataFrame
    predictions: list[Any]
    probabilities: list[float]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Packaged]:
    """Register one version in a store of its own, package it by number and by alias.

    The store lives only while the fixture sets up; the tests read the
    folders, which must not need it.
    """
    root = tmp_path_factory.mktemp("packaging")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(config.HOME_ENV, str(root / ".tether"))
        patch.delenv(config.STORE_ENV, raising=False)
        patch.delenv(config.ARTIFACTS_ENV, raising=False)
        # The same reset as the per-test tether_home fixture, for a module's store.
        reset_tether()
        try:
            record = _register()
            tether.models.set_alias(MODEL_NAME, "staging", record.version)
            result = tether.models.package(record.uri, root / "by-version", image=IMAGE)
            again = tether.models.package(
                f"models:/{MODEL_NAME}@staging", root / "by-alias", image=IMAGE
            )
            files = model_files(record)
            stored = {name: files.read(name) for name in MODEL_FILES}
            example = input_example(record)
            assert example is not None
            loaded = tether.models.load(record.uri)
            predictions = loaded.predict(example).tolist()
            probabilities = loaded.predict_proba(example)
            assert probabilities is not None
        finally:
            reset_tether()
    yield Packaged(
        record,
        result,
        again,
        stored,
        example,
        predictions,
        probabilities.tolist(),
    )


def _expected_files() -> list[str]:
    files = [
        ".dockerignore",
        "Dockerfile",
        "README.md",
        "k8s/deployment.yaml",
        "k8s/hpa.yaml",
        "k8s/service.yaml",
        "model.json",
        *(f"model/{name}" for name in MODEL_FILES),
        "requirements.txt",
    ]
    if tether_source_tree() is not None:
        files.append(f"wheels/{_wheel_name()}")
    return sorted(files)


def _wheel_name() -> str:
    version = metadata.version("tether-mlops")
    return f"tether_mlops-{version}-py3-none-any.whl"


def _folder_files(folder: Path) -> list[str]:
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file()
    )


def _requirement_lines(folder: Path) -> list[str]:
    text = (folder / "requirements.txt").read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_package_lists_every_file(packaged: Packaged) -> None:
    folder = packaged.result.folder
    assert packaged.result.files == _expected_files()
    assert _folder_files(folder) == _expected_files()
    assert packaged.result.uri == "models:/credit_risk/1"
    assert packaged.result.name == KUBERNETES_NAME
    assert packaged.result.image == IMAGE


def test_package_copies_stored_files(packaged: Packaged) -> None:
    folder = packaged.result.folder / "model"
    for name, content in packaged.stored_files.items():
        assert (folder / name).read_bytes() == content, name


def test_model_json_matches_record(packaged: Packaged) -> None:
    record = packaged.record
    document = json.loads((packaged.result.folder / "model.json").read_text())
    assert document["format"] == 1
    assert document["uri"] == "models:/credit_risk/1"
    assert document["id"] == record.id
    assert document["name"] == record.name
    assert document["version"] == record.version
    assert document["flavor"] == "sklearn"
    assert document["signature"] == record.signature
    assert document["metrics"] == {"auc": 0.91}
    assert document["run_id"] == record.run_id
    assert document["status"] == "candidate"
    assert document["trusted"] is False
    assert document["created_at"] == record.created_at.isoformat()
    assert document["artifact_digest"] == record.artifact_digest
    assert document["files"] == record.details["files"]
    assert sorted(document["files"]) == MODEL_FILES
    assert document["details"]["python"] == record.details["python"]
    assert document["details"]["requirements"] == record.details["requirements"]
    assert "files" not in document["details"]


def test_requirements_pin_exact_versions(packaged: Packaged) -> None:
    lines = _requirement_lines(packaged.result.folder)
    recorded = packaged.record.details["requirements"]
    tether_lines = [line for line in lines if "==" not in line]
    pins = dict(line.split("==") for line in lines if "==" in line)
    for pin in recorded:
        name, version = pin.split("==")
        assert pins[name] == version, name
    for name in ("fastapi", "uvicorn", "starlette", "orjson", "pyarrow", "typer"):
        assert pins[name] == metadata.version(name), name
    assert "tether-mlops" not in pins
    assert len(pins) == len(lines) - len(tether_lines)
    if tether_source_tree() is not None:
        assert tether_lines == [f"./wheels/{_wheel_name()}"]
    else:
        assert tether_lines == []
        assert pins["tether-mlops"] == metadata.version("tether-mlops")


def test_requirements_list_recorded_pins_first(packaged: Packaged) -> None:
    lines = _requirement_lines(packaged.result.folder)
    recorded = sorted(packaged.record.details["requirements"])
    assert lines[: len(recorded)] == recorded


@pytest.mark.skipif(
    tether_source_tree() is None, reason="Tether is not installed from a source tree"
)
def test_wheel_holds_package_templates(packaged: Packaged) -> None:
    wheel = packaged.result.folder / "wheels" / _wheel_name()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "tether/models/package_templates/Dockerfile.j2" in names
    assert "tether/models/package_templates/README.md.j2" in names
    assert "tether/models/packaged.py" in names


def _manifest(packaged: Packaged, name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (packaged.result.folder / "k8s" / name).read_text()
    )
    return document


def test_deployment_manifest(packaged: Packaged) -> None:
    deployment = _manifest(packaged, "deployment.yaml")
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["kind"] == "Deployment"
    assert deployment["metadata"]["name"] == KUBERNETES_NAME
    assert DNS_1035_LABEL.fullmatch(deployment["metadata"]["name"])
    pod = deployment["spec"]["template"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    [container] = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    ]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_service_selects_deployment_pods(packaged: Packaged) -> None:
    deployment = _manifest(packaged, "deployment.yaml")
    service = _manifest(packaged, "service.yaml")
    assert service["apiVersion"] == "v1"
    assert service["kind"] == "Service"
    assert service["metadata"]["name"] == KUBERNETES_NAME
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]


def test_autoscaler_targets_deployment(packaged: Packaged) -> None:
    autoscaler = _manifest(packaged, "hpa.yaml")
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["kind"] == "HorizontalPodAutoscaler"
    assert autoscaler["metadata"]["name"] == KUBERNETES_NAME
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": KUBERNETES_NAME,
    }
    assert autoscaler["spec"]["minReplicas"] == 1
    assert autoscaler["spec"]["maxReplicas"] == 4
    [cpu] = autoscaler["spec"]["metrics"]
    assert cpu["type"] == "Resource"
    assert cpu["resource"]["name"] == "cpu"
    assert cpu["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 70,
    }


def test_dockerfile_lines(packaged: Packaged) -> None:
    python = packaged.record.details["python"]
    minor = ".".join(python.split(".")[:2])
    lines = (packaged.result.folder / "Dockerfile").read_text().splitlines()
    assert f"FROM python:{minor}-slim" in lines
    assert "COPY requirements.txt ./" in lines
    assert "RUN pip install -r requirements.txt" in lines
    assert "COPY model.json ./" in lines
    assert "COPY model/ ./model/" in lines
    assert "USER 10001:10001" in lines
    assert "EXPOSE 8080" in lines
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert any("http://127.0.0.1:8080/health" in line for line in lines)
    assert (
        'CMD ["tether", "serve", "/app", "--host", "0.0.0.0", "--port", "8080"]'
        in lines
    )
    has_wheel = tether_source_tree() is not None
    assert ("COPY wheels/ ./wheels/" in lines) == has_wheel


def test_dockerignore_keeps_only_copied_files(packaged: Packaged) -> None:
    text = (packaged.result.folder / ".dockerignore").read_text()
    rules = [line for line in text.splitlines() if not line.startswith("#")]
    assert rules == ["*", "!requirements.txt", "!wheels", "!model.json", "!model"]


def test_readme_names_commands(packaged: Packaged) -> None:
    text = (packaged.result.folder / "README.md").read_text()
    assert ".venv/bin/pip install -r requirements.txt" in text
    assert ".venv/bin/tether serve . --host 127.0.0.1 --port 8080" in text
    assert f"docker build -t {IMAGE} ." in text
    assert "kubectl apply -f k8s/" in text
    assert f"kubectl rollout status deployment/{KUBERNETES_NAME}" in text
    first = packaged.example.head(1)
    assert f'"age": {int(first["age"].iloc[0])}' in text


def test_package_twice_gives_same_bytes(packaged: Packaged) -> None:
    first, second = packaged.result, packaged.again
    assert second.files == first.files
    for name in first.files:
        left = (first.folder / name).read_bytes()
        right = (second.folder / name).read_bytes()
        assert left == right, name


def test_load_package_needs_no_store(packaged: Packaged, tether_home: Path) -> None:
    model = load_package(packaged.result.folder)
    assert model.uri == "models:/credit_risk/1"
    assert model.name == MODEL_NAME
    assert model.version == "1"
    assert model.flavor.name == "sklearn"
    assert model.record.id == packaged.record.id
    assert model.record.details["files"] == packaged.record.details["files"]
    assert model.predict(packaged.example).tolist() == packaged.predictions
    probabilities = model.predict_proba(packaged.example)
    assert probabilities is not None
    assert probabilities.tolist() == packaged.probabilities
    assert not tether_home.exists()


def test_load_package_rejects_changed_file(packaged: Packaged, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(packaged.result.folder, copy)
    (copy / "model" / "model.skops").write_bytes(b"not the model")
    with pytest.raises(DataError, match=r"does not match its digest in model\.json"):
        load_package(copy)


def test_serve_rejects_folder_without_model_json(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_line_error(capsys, "serve", str(empty), "--port", str(_free_port()))
    assert line == (
        f"error: {empty} has no model.json, so it is not a packaged model folder; "
        f"write one with `tether models package URI {empty}`"
    )


def test_package_cli_json_and_force(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _register()
    target = tmp_path / "served"
    output = run_json(capsys, "models", "package", record.uri, str(target))
    assert output["uri"] == "models:/credit_risk/1"
    assert output["folder"] == str(target)
    assert output["name"] == KUBERNETES_NAME
    assert output["image"] == "credit-risk:1"
    assert output["files"] == _expected_files()

    (target / "notes.txt").write_text("left from an earlier package")
    line = one_line_error(capsys, "models", "package", record.uri, str(target))
    assert line == (
        f"error: {target} is not empty; pass a new or empty folder, or --force to "
        "replace an earlier package in it"
    )
    assert (target / "notes.txt").is_file()

    forced = run_json(capsys, "models", "package", record.uri, str(target), "--force")
    assert forced["files"] == _expected_files()
    assert _folder_files(target) == _expected_files()


def test_package_rejects_non_empty_folder(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _register()
    target = tmp_path / "project"
    target.mkdir()
    (target / "main.py").write_text("print('keep me')\n")
    for extra in ([], ["--force"]):
        line = one_line_error(
            capsys, "models", "package", record.uri, str(target), *extra
        )
        assert "is not empty" in line
        assert _folder_files(target) == ["main.py"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [".tether", "project"]


def test_package_rejects_unknown_uri(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _register()
    target = tmp_path / "served"
    line = one_line_error(capsys, "models", "package", "models:/nope/1", str(target))
    assert "model 'nope' not found" in line
    line = one_line_error(
        capsys, "models", "package", f"models:/{MODEL_NAME}/7", str(target)
    )
    assert line == (
        f"error: model '{MODEL_NAME}' has no version 7; list versions with "
        f"`tether models show {MODEL_NAME}`"
    )
    line = one_line_error(capsys, "models", "package", "nope", str(target))
    assert line.startswith("error: invalid model URI 'nope'")
    assert not target.exists()


def test_package_rejects_corrupted_blob(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _register()
    digest = record.details["files"]["model.skops"]
    blob = get_objects().path(digest)
    blob.chmod(0o644)
    blob.write_bytes(b"corrupted on disk")
    target = tmp_path / "served"
    line = one_line_error(capsys, "models", "package", record.uri, str(target))
    assert line.startswith(
        f"error: file 'model.skops' of {record.uri} failed its digest check: "
        f"the blob {blob} has digest "
    )
    assert f"but the version records {digest}" in line
    assert not target.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == [".tether"]


def test_package_rejects_missing_blob(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _register()
    digest = record.details["files"]["model.skops"]
    blob = get_objects().path(digest)
    blob.unlink()
    line = one_line_error(
        capsys, "models", "package", record.uri, str(tmp_path / "served")
    )
    assert line.startswith(
        f"error: file 'model.skops' of {record.uri} is missing from the artifact store"
    )


def test_package_rejects_invalid_image(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = _register()
    line = one_line_error(
        capsys,
        "models",
        "package",
        record.uri,
        str(tmp_path / "served"),
        "--image",
        "Bad Image",
    )
    assert line.startswith("error: invalid image name 'Bad Image'")


def test_recorded_pin_conflict_is_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        dependency_pins([], {"numpy": "1.0.0"})
    message = str(caught.value)
    assert re.search(r"requires numpy[<>=!~]", message), message
    assert "but the pinned version is 1.0.0" in message


def test_kubernetes_name_of_unusual_model_name(
    tether_home: Path, tmp_path: Path
) -> None:
    from tether.models.package_deploy import deployment_for

    record = _register("3D..Scan_" + "x" * 80)
    deployment = deployment_for(record, None)
    assert DNS_1035_LABEL.fullmatch(deployment.name)
    assert len(deployment.name) == 63
    assert deployment.name.startswith("model-3d-scan-xxx")
    assert deployment.name.endswith("-v1")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _wait_for_health(
    server: subprocess.Popen[bytes], url: str, log: Path
) -> dict[str, Any]:
    """Poll ``url`` until it returns status 200; fail when the server exits first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(
                f"the server exited with {server.returncode}:\n{log.read_text()}"
            )
        try:
            response = httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        time.sleep(0.2)
    pytest.fail(f"the server did not answer {url}:\n{log.read_text()}")


@pytest.mark.slow
def test_packaged_folder_serves_in_fresh_environment(
    packaged: Packaged, tmp_path: Path
) -> None:
    folder = packaged.result.folder
    environment_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(environment_dir)], check=True)
    python = environment_dir / "bin" / "python"
    # --no-compile skips byte-compiling every installed module up front; the
    # server compiles only the modules it imports.
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "-r",
            "requirements.txt",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr

    port = _free_port()
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    predictions_root = tmp_path / "predictions"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TETHER_") and key != "PYTHONPATH"
    }
    env["TETHER_PREDICTIONS_DIR"] = str(predictions_root)
    log = tmp_path / "server.log"
    command = [
        str(environment_dir / "bin" / "tether"),
        "serve",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            health = _wait_for_health(server, f"{base}/health", log)
            records = packaged.example.to_dict(orient="records")
            response = httpx.post(
                f"{base}/predict", json={"records": records}, timeout=30
            )
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    assert server.returncode == 0, log.read_text()
    assert health == {
        "status": "ok",
        "model_uri": "models:/credit_risk/1",
        "model_version": "1",
    }
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == packaged.predictions
    assert body["probabilities"] == pytest.approx(packaged.probabilities, rel=1e-12)
    assert body["model_version"] == "1"

    logged = read_predictions(predictions_root / MODEL_NAME / "1")
    assert len(logged) == len(packaged.example)
    assert logged["prediction"].tolist() == packaged.predictions
    assert set(logged["model_uri"]) == {"models:/credit_risk/1"}
    assert sorted(path.name for path in workdir.iterdir()) == []

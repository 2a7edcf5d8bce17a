"""Retraining (drifting_etl/retrain/training.py) and its DAG (dags/retrain.py), end to end on the demo projects' logs.

Expected metrics are computed independently: the logs and labels are read back with pandas, joined, cut to the
training window and split by time here, and scored with scikit-learn.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import skops.io as sio
from sklearn import metrics as skm
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from drifting_etl.cli.demo import CREDIT_CONFIG, DemoProject, demo_projects, generate
from drifting_etl.core.columns import LABEL
from drifting_etl.core.config import ProjectConfig, dump_config, parse_config
from drifting_etl.core.errors import ConfigError, DataError
from drifting_etl.core.model_task import ESTIMATORS
from drifting_etl.core.window import Window
from drifting_etl.profiles.columns import ReferenceProfile
from drifting_etl.retrain.training import (
    ESTIMATOR_CLASSES,
    TIMESTAMP,
    current_version,
    estimator_for,
    fit_model,
    load_model,
    logged_metrics,
    model_input,
    retrain_project,
    split_by_time,
    train_and_evaluate,
)
from drifting_etl.store.artifacts import ArtifactStore
from drifting_etl.store.projects import load_config_of, load_project, register

ROOT = Path(__file__).resolve().parents[1]
DAYS = 7
END = datetime(2026, 1, 8, tzinfo=UTC)
START = END - timedelta(days=DAYS)
WINDOW_END = END - timedelta(days=1)  # the last day is outside the training window
TRIGGER = {
    "project": "credit-default",
    "window_start": (WINDOW_END - timedelta(days=1)).isoformat(),
    "window_end": WINDOW_END.isoformat(),
    "reason": "dataset_drift",
    "metrics": {"drift_share": 0.6},
}


# ====================================================================== fixtures


def _generate(root: Path, projects: list[DemoProject], seed: int) -> Path:
    storage = root / "store"
    store = ArtifactStore(str(storage))
    rng = np.random.default_rng(seed)
    # one OpenMP thread: the demo's gradient boosting slows down tenfold when parallel test runs share two cores
    with threadpool_limits(limits=1):
        for project in projects:
            reference = generate(store, project, START, DAYS, rng, root)
            register(store, root / f"{project.name}.yaml", str(reference))
    return storage


def _blind(fit: Callable[[pd.DataFrame], Callable[[pd.DataFrame], pd.DataFrame]]) -> Callable:
    """A current model that never sees debt ratio or income (the strongest signals): easy to beat."""

    def fit_blind(reference: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
        predict = fit(reference)

        def predict_blind(frame: pd.DataFrame) -> pd.DataFrame:
            blind = predict(frame.assign(debt_ratio=0.29, income=float(np.exp(10.8))))
            return frame.assign(prediction=blind["prediction"], prediction_proba=blind["prediction_proba"])

        return predict_blind

    return fit_blind


@pytest.fixture(scope="module")
def demo_storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("demo"), demo_projects(START), seed=11)


@pytest.fixture(scope="module")
def blind_storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    credit = next(p for p in demo_projects(START) if p.name == "credit-default")
    return _generate(tmp_path_factory.mktemp("blind"), [replace(credit, fit=_blind(credit.fit))], seed=12)


def _copy(storage: Path, tmp_path: Path) -> ArtifactStore:
    """A private copy of a generated store (tests write models and references into it)."""
    target = tmp_path / "store"
    shutil.copytree(storage, target)
    return ArtifactStore(str(target))


@pytest.fixture
def store(demo_storage: Path, tmp_path: Path) -> ArtifactStore:
    return _copy(demo_storage, tmp_path)


@pytest.fixture
def blind_store(blind_storage: Path, tmp_path: Path) -> ArtifactStore:
    return _copy(blind_storage, tmp_path)


def _set_retrain(store: ArtifactStore, name: str, **changes: Any) -> ProjectConfig:
    config = load_config_of(store, name)
    config = config.model_copy(update={"retrain": config.retrain.model_copy(update=changes)})
    store.write_text(store.configuration_path(name), dump_config(config))
    return load_config_of(store, name)


def _metrics_json(store: ArtifactStore, name: str, version: str) -> dict[str, Any]:
    return json.loads(store.read_text(store.model_metrics_path(name, version)))


def _independent_split(
    storage: Path, config: ProjectConfig, window_end: datetime
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The training window's labelled rows by time, their latest holdout share, and the window's row count."""
    logs = pd.concat(
        [pd.read_parquet(path) for path in sorted((storage / "logs" / f"project={config.name}").rglob("*.parquet"))]
    )
    labels_dir = storage / "labels" / f"project={config.name}"
    if labels_dir.exists():
        labels = pd.concat([pd.read_parquet(path) for path in sorted(labels_dir.rglob("*.parquet"))])
        latest = labels.sort_values("labelled_at").drop_duplicates("request_id", keep="last")
        logs = logs.drop(columns=["label"], errors="ignore").merge(
            latest[["request_id", "label"]], on="request_id", how="left"
        )
    timestamps = pd.to_datetime(logs["timestamp"], utc=True)
    start = window_end - config.retrain.training_window
    in_window = logs[(timestamps >= start) & (timestamps < window_end)]
    labelled = in_window[in_window["label"].notna() & in_window["prediction"].notna()]
    labelled = labelled.sort_values("timestamp", kind="stable")
    return labelled, labelled.tail(math.ceil(len(labelled) * config.retrain.holdout)), len(in_window)


def _sklearn_metrics(config: ProjectConfig, truth: np.ndarray, predicted: np.ndarray, proba: Any) -> dict:
    if config.task == "regression":
        return {
            "mae": skm.mean_absolute_error(truth, predicted),
            "rmse": skm.root_mean_squared_error(truth, predicted),
            "mape": skm.mean_absolute_percentage_error(truth, predicted),
            "r2": skm.r2_score(truth, predicted),
        }
    return {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, pos_label=1),
        "recall": skm.recall_score(truth, predicted, pos_label=1),
        "f1": skm.f1_score(truth, predicted, pos_label=1),
        "roc_auc": skm.roc_auc_score(truth, proba),
        "log_loss": skm.log_loss(truth, proba, labels=[0, 1]),
    }


# ====================================================================== end to end


@pytest.mark.slow
def test_retrain_project_given_demo_logs_should_store_a_skops_model_that_loads_and_predicts(
    store: ArtifactStore,
) -> None:
    result = retrain_project(store, "credit-default", WINDOW_END, reason="dataset_drift", trigger=TRIGGER)

    directory = Path(store.model_dir("credit-default", result.version))
    assert sorted(path.name for path in directory.iterdir()) == ["metrics.json", "model.skops"]
    assert result.version.startswith("20260107T000000Z-")
    assert result.model_path == store.model_path("credit-default", result.version)
    assert (directory / "model.skops").read_bytes()[:2] == b"PK"  # a skops zip, not a pickle

    model = load_model(store, "credit-default", result.version)
    rows = pd.read_parquet(store.reference_path("credit-default")).head(200)
    predicted = model.predict(model_input(rows, load_config_of(store, "credit-default")))
    assert set(np.unique(predicted)) <= {0, 1} and len(predicted) == 200

    body = _metrics_json(store, "credit-default", result.version)
    assert body["project"] == "credit-default" and body["version"] == result.version
    assert body["trigger"] == TRIGGER
    assert body["estimator"] == "logistic_regression" and body["params"] == {"random_state": 0}
    assert body["training_window"] == {
        "start": (WINDOW_END - timedelta(days=14)).isoformat(),
        "end": WINDOW_END.isoformat(),
    }
    assert body["primary_metric"]["name"] == "roc_auc" == result.primary_metric
    assert body["improved"] is result.improved and body["promoted"] is result.promoted
    improvement = body["primary_metric"]["new"] - body["primary_metric"]["current"]
    assert result.improved == (improvement > 0)  # min_improvement 0
    assert body["rows"]["train"] + body["rows"]["holdout"] == body["rows"]["labelled"] == result.rows.labelled

    # the same retraining again (an Airflow retry) rewrites the same version instead of adding one
    again = retrain_project(store, "credit-default", WINDOW_END, reason="dataset_drift", trigger=TRIGGER)
    assert again.version == result.version
    assert len(store.list_dirs(store.models_dir("credit-default"))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["credit-default", "delivery-eta"])
def test_retrain_project_given_demo_logs_should_report_both_models_as_sklearn_scores_them_on_the_latest_rows(
    store: ArtifactStore, name: str
) -> None:
    result = retrain_project(store, name, WINDOW_END, reason="performance")
    config = load_config_of(store, name)
    _, holdout, window_rows = _independent_split(Path(store.root), config, WINDOW_END)
    body = _metrics_json(store, name, result.version)

    assert body["rows"]["read"] == result.rows.read == window_rows
    assert body["rows"]["holdout"] == len(holdout)
    assert body["holdout"]["first_timestamp"] == pd.Timestamp(holdout["timestamp"].iloc[0]).isoformat()
    truth = holdout["label"].to_numpy(dtype=float if config.task == "regression" else int)
    proba = holdout["prediction_proba"].to_numpy() if config.task == "classification" else None
    current = _sklearn_metrics(config, truth, holdout["prediction"].to_numpy(), proba)
    assert body["metrics"]["current"] == pytest.approx(current, rel=1e-9, abs=1e-12)

    model = load_model(store, name, result.version)
    features = model_input(holdout, config)
    new_proba = model.predict_proba(features)[:, 1] if config.task == "classification" else None
    new = _sklearn_metrics(config, truth, model.predict(features), new_proba)
    assert body["metrics"]["new"] == pytest.approx(new, rel=1e-9, abs=1e-12)
    assert result.new_metrics == body["metrics"]["new"] and result.current_metrics == body["metrics"]["current"]

    primary = "mae" if name == "delivery-eta" else "roc_auc"
    assert body["primary_metric"]["name"] == primary
    lower_is_better = primary == "mae"
    better = new[primary] < current[primary] if lower_is_better else new[primary] > current[primary]
    assert result.improved == better


@pytest.mark.slow
def test_retrain_project_given_a_weaker_current_model_should_promote_and_replace_the_reference(
    blind_store: ArtifactStore,
) -> None:
    before = ReferenceProfile.from_json(blind_store.read_text(blind_store.reference_profile_path("credit-default")))

    result = retrain_project(blind_store, "credit-default", WINDOW_END, reason="performance", trigger=TRIGGER)

    assert result.improved and result.promoted
    assert result.new_metrics["roc_auc"] > result.current_metrics["roc_auc"] + 0.05
    after = ReferenceProfile.from_json(blind_store.read_text(blind_store.reference_profile_path("credit-default")))
    body = _metrics_json(blind_store, "credit-default", result.version)
    assert after.version != before.version
    assert body["reference_version"] == {"before": before.version, "after": after.version}
    assert body["improved"] is True and body["promoted"] is True
    assert result.reference_version == after.version
    assert current_version(blind_store, "credit-default") == result.version
    assert set(json.loads(blind_store.read_text(blind_store.current_model_path("credit-default")))) == {
        "version",
        "promoted_at",
    }

    # the reference is the training window's labelled rows, with the NEW model's outputs and the truth
    config = load_config_of(blind_store, "credit-default")
    reference = pq.read_table(blind_store.reference_path("credit-default")).to_pandas()
    assert list(reference.columns) == [*config.features.all, "prediction", "prediction_proba", "label"]
    assert len(reference) == result.rows.labelled == after.row_count
    model = load_model(blind_store, "credit-default", result.version)
    features = model_input(reference, config)
    np.testing.assert_array_equal(reference["prediction"].to_numpy(), model.predict(features))
    np.testing.assert_allclose(reference["prediction_proba"].to_numpy(), model.predict_proba(features)[:, 1])
    labelled, _, _ = _independent_split(Path(blind_store.root), config, WINDOW_END)
    for column in [*config.features.numerical, "label"]:
        np.testing.assert_array_equal(np.sort(reference[column].to_numpy()), np.sort(labelled[column].to_numpy()))
    load_project(blind_store, "credit-default")  # monitoring can load the new reference


@pytest.mark.slow
def test_retrain_project_given_a_huge_min_improvement_should_store_the_version_but_keep_the_reference(
    blind_store: ArtifactStore,
) -> None:
    _set_retrain(blind_store, "credit-default", min_improvement=10.0)
    reference = Path(blind_store.reference_path("credit-default")).read_bytes()
    profile = Path(blind_store.reference_profile_path("credit-default")).read_bytes()

    result = retrain_project(blind_store, "credit-default", WINDOW_END)

    assert not result.improved and not result.promoted
    body = _metrics_json(blind_store, "credit-default", result.version)
    assert body["primary_metric"]["improvement"] > 0  # better, but not by 10
    assert body["improved"] is False and body["promoted"] is False
    assert body["reference_version"]["before"] == body["reference_version"]["after"]
    assert body["trigger"] == {"reason": "manual", "window_start": None, "window_end": WINDOW_END.isoformat()}
    assert Path(blind_store.reference_path("credit-default")).read_bytes() == reference
    assert Path(blind_store.reference_profile_path("credit-default")).read_bytes() == profile
    assert current_version(blind_store, "credit-default") is None
    load_model(blind_store, "credit-default", result.version)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("estimator", "params"),
    [("random_forest_classifier", {"n_estimators": 10, "max_depth": 6}), ("hist_gradient_boosting_classifier", {})],
)
def test_retrain_project_given_a_tree_estimator_should_store_a_model_that_loads(
    store: ArtifactStore, estimator: str, params: dict[str, Any]
) -> None:
    _set_retrain(store, "credit-default", estimator=estimator, params=params)

    result = retrain_project(store, "credit-default", WINDOW_END)

    body = _metrics_json(store, "credit-default", result.version)
    assert body["estimator"] == estimator and body["params"] == {**params, "random_state": 0}
    model = load_model(store, "credit-default", result.version)
    assert type(model.steps[-1][1]) is ESTIMATOR_CLASSES[estimator]
    assert model.get_params()[f"{model.steps[-1][0]}__random_state"] == 0


# ====================================================================== errors


@pytest.mark.parametrize(
    "change",
    [{"training_window": timedelta(minutes=20)}, {}],
    ids=["a 20-minute window", "a window before any logs"],
)
def test_retrain_project_given_too_few_labelled_rows_should_raise_data_error_and_write_nothing(
    store: ArtifactStore, change: dict[str, Any]
) -> None:
    _set_retrain(store, "credit-default", **change)
    window_end = END - timedelta(hours=12) if change else START
    reference = Path(store.reference_path("credit-default")).read_bytes()

    with pytest.raises(DataError, match="labelled rows in the training window") as caught:
        retrain_project(store, "credit-default", window_end)

    assert caught.value.project == "credit-default"
    assert window_end.isoformat() in caught.value.window and not caught.value.transient
    assert not store.exists(store.models_dir("credit-default"))
    assert Path(store.reference_path("credit-default")).read_bytes() == reference


def _config(**retrain: Any) -> ProjectConfig:
    config = parse_config(CREDIT_CONFIG.format(start="2026-01-01"), source="test.yaml")
    return config.model_copy(update={"retrain": config.retrain.model_copy(update=retrain)})


def _labelled(n: int, label: Callable[[np.ndarray], np.ndarray], seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    debt = rng.random(n)
    logged = rng.random(n)  # the logged (current) model is a coin flip
    return pa.table(
        {
            TIMESTAMP: pa.array([START + timedelta(minutes=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10.8, 0.4, n),
            "debt_ratio": debt,
            "region": rng.choice(["north", "south"], n),
            "employment": rng.choice(["salaried", "retired", None], n),
            "prediction": (logged > 0.5).astype(int),
            "prediction_proba": logged,
            LABEL: label(debt),
        }
    )


def test_train_and_evaluate_given_a_single_class_should_raise_data_error_naming_project_and_window() -> None:
    window = Window(START, END)
    with pytest.raises(DataError, match="same class") as caught:
        train_and_evaluate(_config(), _labelled(200, lambda debt: np.ones(debt.size, int)), "1", window)
    assert caught.value.project == "credit-default" and caught.value.window == str(window)


def test_split_by_time_given_unsorted_rows_should_hold_out_the_latest_share() -> None:
    table = _labelled(10, lambda debt: (debt > 0.5).astype(int))
    shuffled = table.take(pa.array([3, 9, 0, 7, 1, 8, 2, 6, 4, 5]))

    train, holdout = split_by_time(shuffled, 0.25)

    assert holdout.column(TIMESTAMP).to_pylist() == table.column(TIMESTAMP).to_pylist()[7:]
    assert train.column(TIMESTAMP).to_pylist() == table.column(TIMESTAMP).to_pylist()[:7]


def test_train_and_evaluate_given_synthetic_rows_should_fit_on_the_past_and_score_on_the_holdout() -> None:
    table = _labelled(400, lambda debt: (debt > 0.3).astype(int))

    evaluation = train_and_evaluate(_config(), table, "1", Window(START, END))

    assert (evaluation.train_rows, evaluation.holdout_rows) == (320, 80)
    assert evaluation.holdout_start == START + timedelta(minutes=320)
    assert evaluation.primary_metric == "roc_auc"
    assert evaluation.current_metrics["roc_auc"] < 0.7 < 0.95 < evaluation.new_metrics["roc_auc"]
    assert evaluation.improved and evaluation.improvement > 0.25


def test_estimator_classes_given_config_allow_list_should_map_exactly_the_allowed_names() -> None:
    assert set(ESTIMATOR_CLASSES) == set(chain.from_iterable(ESTIMATORS.values()))


@pytest.mark.parametrize("estimator", ["ridge", "svc", "os.system"])
def test_estimator_for_given_a_name_outside_the_task_allow_list_should_raise_config_error(estimator: str) -> None:
    # validation at load time would refuse these; the retraining edge refuses them again
    with pytest.raises(ConfigError, match="not allowed for classification"):
        estimator_for(_config(estimator=estimator))


@pytest.mark.parametrize(("params", "match"), [({"no_such_param": 1}, "do not fit"), ({"C": -1.0}, "invalid")])
def test_fit_model_given_bad_params_should_raise_config_error(params: dict[str, Any], match: str) -> None:
    table = _labelled(100, lambda debt: (debt > 0.3).astype(int))
    with pytest.raises(ConfigError, match=match):
        fit_model(_config(params=params), table, Window(START, END))


# ====================================================================== tampered model files


class _Payload:
    """Unpickling this would create a directory: proof that the file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


@pytest.mark.parametrize("tampering", ["pickle", "skops with os.mkdir", "not a model"])
def test_load_model_given_a_tampered_file_should_refuse_it_with_data_error(tmp_path: Path, tampering: str) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    marker = tmp_path / "payload-ran"
    version = "20260107T000000Z-0123abcd"
    if tampering == "pickle":
        data, match = pickle.dumps(_Payload(marker)), "not a readable skops model file"
    elif tampering == "skops with os.mkdir":
        data, match = sio.dumps(make_pipeline(FunctionTransformer(os.mkdir))), "untrusted type.*mkdir"
    else:
        data, match = b"PK\x03\x04 garbage", "not a readable skops model file"
    store.write_bytes(store.model_path("credit-default", version), data)

    with pytest.raises(DataError, match=match) as caught:
        load_model(store, "credit-default", version)

    assert caught.value.project == "credit-default"
    assert not marker.exists()


def test_load_model_given_a_trusted_skops_file_of_something_else_should_refuse_it(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    version = "20260107T000000Z-0123abcd"
    store.write_bytes(store.model_path("credit-default", version), sio.dumps({"not": "a pipeline"}))
    with pytest.raises(DataError, match="expected a scikit-learn Pipeline"):
        load_model(store, "credit-default", version)


@pytest.mark.parametrize("version", ["../../x", "latest", "20260107T000000Z-XYZ"])
def test_model_dir_given_a_version_that_is_not_a_version_should_raise_config_error(
    tmp_path: Path, version: str
) -> None:
    with pytest.raises(ConfigError, match="invalid model version"):
        ArtifactStore(str(tmp_path)).model_dir("credit-default", version)


def test_model_input_given_mixed_category_types_should_compare_them_as_text() -> None:
    config = _config()
    frame = pd.DataFrame(
        {
            "age": [1, None],
            "income": [2.0, 3.0],
            "debt_ratio": [0.1, 0.2],
            "region": [1.0, None],
            "employment": ["a", "b"],
        }
    )
    prepared = model_input(frame, config)
    assert prepared["region"].tolist()[0] == "1" and pd.isna(prepared["region"].tolist()[1])
    assert prepared["age"].dtype == np.float64 and prepared["age"].isna().tolist() == [False, True]


# ====================================================================== the DAG


def _run(code: str, env: dict[str, str], timeout: float = 120) -> tuple[dict[str, Any], str]:
    """Run Python in a fresh interpreter (Airflow's global state stays out of pytest): its last JSON line, its log."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stdout + completed.stderr


def _airflow_env(home: Path, storage: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "DRIFTING_STORAGE_URL": storage,
    }


LOAD_DAG_FILE = """
    import importlib.util, json, sys
    spec = importlib.util.spec_from_file_location("retrain_dags", "dags/retrain.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = {name: value for name, value in vars(module).items() if name.startswith("retrain__")}
"""


def test_retrain_dag_file_given_an_index_should_build_one_dag_per_active_project_using_the_shipped_dag(
    store: ArtifactStore, tmp_path: Path
) -> None:
    index = json.loads(store.read_text(store.index_path))
    projects = index["projects"]
    projects["delivery-eta"]["status"] = "paused"
    projects["own-dag"] = {**projects["credit-default"], "retrain_dag_id": "team_retraining"}
    projects["bad name!"] = {**projects["credit-default"], "retrain_dag_id": "retrain__bad name!"}
    store.write_text(store.index_path, json.dumps(index))

    code = (
        LOAD_DAG_FILE
        + """
    heavy = sorted(m for m in ("sklearn", "skops", "pandas", "drifting_etl.retrain.training") if m in sys.modules)
    print(json.dumps({
        "heavy": heavy,
        "dags": {
            dag_id: {
                "tags": sorted(dag.tags), "schedule": dag.schedule, "tasks": [t.task_id for t in dag.tasks],
                "retries": dag.tasks[0].retries, "backoff": dag.tasks[0].retry_exponential_backoff,
                "max_active_runs": dag.max_active_runs,
            }
            for dag_id, dag in dags.items()
        },
    }))
    """
    )
    completed, log = _run(code, _airflow_env(tmp_path / "airflow", store.url))

    assert completed["heavy"] == []
    assert completed["dags"] == {
        "retrain__credit-default": {
            "tags": ["drifting-etl", "retrain"],
            "schedule": None,
            "tasks": ["retrain"],
            "retries": 2,
            "backoff": 2.0,
            "max_active_runs": 1,
        }
    }
    assert "cannot build the retraining DAG of project bad name!" in log  # and the others were still built


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow")
    env = _airflow_env(home, str(home / "unused-store"))
    migrate = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr[-4000:]
    return home


@pytest.mark.slow
def test_retrain_dag_given_a_trigger_conf_should_retrain_and_fail_terminal_errors_without_retries(
    store: ArtifactStore, airflow_home: Path
) -> None:
    too_early = {**TRIGGER, "window_end": START.isoformat()}
    wrong_project = {**TRIGGER, "project": "delivery-eta"}
    code = (
        LOAD_DAG_FILE
        + f"""
    from airflow.models import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    dag = dags["retrain__credit-default"]
    runs = [dag.test(run_conf=conf) for conf in ({TRIGGER!r}, {too_early!r}, {wrong_project!r})]
    with create_session() as session:
        tries = {{
            ti.run_id: [ti.state, ti.try_number]
            for ti in session.query(TaskInstance).filter(TaskInstance.dag_id == dag.dag_id)
        }}
        result = [[str(run.state), *tries[run.run_id]] for run in runs]
        [row] = session.scalars(
            XComModel.get_many(run_id=runs[0].run_id, key="return_value", task_ids="retrain", dag_ids=dag.dag_id)
        ).all()
        xcom = XComModel.deserialize_value(row)
    print(json.dumps({{"runs": result, "xcom": xcom}}))
    """
    )
    completed, _ = _run(code, _airflow_env(airflow_home, store.url))

    assert completed["runs"] == [["success", "success", 1], ["failed", "failed", 1], ["failed", "failed", 1]]
    [version] = [Path(path).name for path in store.list_dirs(store.models_dir("credit-default"))]
    body = _metrics_json(store, "credit-default", version)
    assert body["trigger"] == TRIGGER
    assert completed["xcom"]["version"] == version
    assert completed["xcom"]["promoted"] == body["promoted"]


def test_logged_metrics_given_per_class_probabilities_should_match_sklearn() -> None:
    """The current model's figures under the per-class logging convention (prediction_proba: class -> probability)."""
    config = parse_config(
        "name: wine\ntask: classification\nstart_date: 2026-01-01\nfeatures:\n  numerical: [alcohol]\n"
        "performance:\n  metrics: [accuracy, roc_auc, log_loss]\n",
        source="wine.yaml",
    )
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, 300)
    proba = rng.dirichlet([1.0, 1.0, 1.0], 300)
    proba[np.arange(300), labels] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    holdout = pa.table(
        {
            LABEL: pa.array(labels),
            "prediction": pa.array(proba.argmax(axis=1)),
            "prediction_proba": pa.array([{str(k): float(p) for k, p in enumerate(row)} for row in proba]),
        }
    )

    metrics = logged_metrics(config, holdout, positive="1")

    assert metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, proba, multi_class="ovr"), abs=1e-9)
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(labels, proba, labels=[0, 1, 2]), abs=1e-9)
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(labels, proba.argmax(axis=1)), abs=1e-12)

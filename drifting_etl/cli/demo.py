"""The demo: two realistic monitored models with drift injected on known features, monitored end to end.

- `credit-default` (binary classifier, @daily): from day 4, `income`, `debt_ratio` and `region` drift, which
  is 3 of 5 features, so the dataset drifts. Ground truth for 60% of requests arrives a few hours later in labels/.
- `delivery-eta` (regressor, every 6 hours): from day 5, `traffic_index` drifts (1 of 5 features, no dataset
  drift). Half of the requests log the actual delivery time inline as `label`.

The model service is simulated with the capture SDK (LogWriter / LabelWriter) writing hourly partitions; the
models are scikit-learn models fitted on the reference data. Everything is seeded and reproducible.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rich.console import Console

from drifting_etl.capture import LabelWriter, LogWriter
from drifting_etl.core.window import schedule_windows
from drifting_etl.load.database import MetricsDatabase
from drifting_etl.store.artifacts import ArtifactStore

if TYPE_CHECKING:
    from drifting_etl.core.settings import SmtpSettings
    from drifting_etl.pipeline.publish import Publisher

CREDIT_CONFIG = """\
name: credit-default
task: classification
schedule: "@daily"
start_date: {start}
features:
  numerical: [age, income, debt_ratio]
  categorical: [region, employment]
performance:
  metrics: [accuracy, precision, recall, f1, roc_auc, log_loss]
  thresholds:
    roc_auc: {{min: 0.75}}
alerts:
  email: [risk-ml@example.com]
  send: on_drift
retrain:
  on: [dataset_drift, performance]
  cooldown: 24h
"""

ETA_CONFIG = """\
name: delivery-eta
task: regression
schedule: "0 */6 * * *"
start_date: {start}
features:
  numerical: [distance_km, items, traffic_index]
  categorical: [city, vehicle]
columns:
  prediction_proba: null
performance:
  metrics: [mae, rmse, mape, r2]
  thresholds:
    mae: {{max: 6.0}}
alerts:
  email: [logistics-ml@example.com]
  send: on_drift
"""

REGIONS = ["north", "south", "east", "west"]
EMPLOYMENT = ["salaried", "self-employed", "unemployed", "retired"]
CITIES = ["amsterdam", "berlin", "lisbon", "madrid", "paris"]
VEHICLES = ["bike", "scooter", "car"]


@dataclass(frozen=True)
class DemoProject:
    name: str
    config: str
    drift_start: datetime
    drifted_features: tuple[str, ...]
    generate: Callable[[np.random.Generator, int, bool], pd.DataFrame]
    fit: Callable[[pd.DataFrame], Callable[[pd.DataFrame], pd.DataFrame]]
    labels_inline: bool
    label_share: float


def _credit_rows(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    age = rng.normal(41, 11, n).clip(18, 90).round()
    income = rng.lognormal(10.8, 0.45, n) * (1.45 if drifted else 1.0)
    debt_ratio = rng.beta(2, 5, n) + (0.18 if drifted else 0.0)
    region = rng.choice(REGIONS, n, p=[0.1, 0.2, 0.3, 0.4] if drifted else [0.4, 0.3, 0.2, 0.1])
    employment = rng.choice(EMPLOYMENT, n, p=[0.6, 0.2, 0.08, 0.12])
    risk = (
        -0.4
        + 9 * (debt_ratio - 0.29)
        - 1.8 * (np.log(income) - 10.8) / 0.45
        + 0.04 * (45 - age)
        + 1.5 * (employment == "unemployed")
    )
    label = rng.random(n) < 1 / (1 + np.exp(-risk))
    frame = pd.DataFrame(
        {
            "age": age,
            "income": income.round(2),
            "debt_ratio": debt_ratio.round(4),
            "region": region,
            "employment": employment,
        }
    )
    frame["label"] = label.astype(int)
    return frame


def _eta_rows(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    distance = rng.gamma(2.0, 2.2, n).round(2)
    items = rng.integers(1, 12, n)
    traffic = rng.normal(62 if drifted else 35, 10, n).clip(0, 100).round(1)
    city = rng.choice(CITIES, n, p=[0.25, 0.25, 0.15, 0.15, 0.2])
    vehicle = rng.choice(VEHICLES, n, p=[0.5, 0.3, 0.2])
    speed = np.select([vehicle == "bike", vehicle == "scooter"], [14.0, 22.0], 28.0)
    minutes = 8 + 60 * distance / speed * (1 + traffic / 100) + 0.8 * items + rng.normal(0, 3, n)
    frame = pd.DataFrame(
        {"distance_km": distance, "items": items, "traffic_index": traffic, "city": city, "vehicle": vehicle}
    )
    frame["label"] = minutes.round(1)
    return frame


def _design(frame: pd.DataFrame, numerical: list[str], categorical: dict[str, list[str]]) -> np.ndarray:
    parts = [frame[numerical].to_numpy(dtype=float)]
    parts += [
        (frame[column].to_numpy()[:, None] == np.array(values)[None, :]).astype(float)
        for column, values in categorical.items()
    ]
    return np.hstack(parts)


def _fit_credit(reference: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def design(frame: pd.DataFrame) -> np.ndarray:
        logged = frame.assign(income=np.log(frame["income"]))
        return _design(logged, ["age", "income", "debt_ratio"], {"region": REGIONS, "employment": EMPLOYMENT})

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        design(reference), reference["label"]
    )

    def predict(frame: pd.DataFrame) -> pd.DataFrame:
        proba = model.predict_proba(design(frame))[:, 1]
        return frame.assign(prediction=(proba >= 0.5).astype(int), prediction_proba=proba.round(6))

    return predict


def _fit_eta(reference: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    def design(frame: pd.DataFrame) -> np.ndarray:
        return _design(frame, ["distance_km", "items", "traffic_index"], {"city": CITIES, "vehicle": VEHICLES})

    model = HistGradientBoostingRegressor(max_iter=200, random_state=0).fit(design(reference), reference["label"])

    def predict(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(prediction=model.predict(design(frame)).round(2))

    return predict


def demo_projects(start: datetime) -> list[DemoProject]:
    return [
        DemoProject(
            "credit-default",
            CREDIT_CONFIG.format(start=start.date()),
            start + timedelta(days=3),
            ("income", "debt_ratio", "region"),
            _credit_rows,
            _fit_credit,
            labels_inline=False,
            label_share=0.6,
        ),
        DemoProject(
            "delivery-eta",
            ETA_CONFIG.format(start=start.date()),
            start + timedelta(days=4),
            ("traffic_index",),
            _eta_rows,
            _fit_eta,
            labels_inline=True,
            label_share=0.5,
        ),
    ]


def generate(
    store: ArtifactStore, project: DemoProject, start: datetime, days: int, rng: np.random.Generator, workdir: Path
) -> Path:
    """Write the project's reference and configuration to `workdir` and its logs and labels to the store."""
    reference = project.generate(rng, 5000, False)
    predict = project.fit(reference)
    reference = predict(reference)
    (workdir / f"{project.name}.yaml").write_text(project.config)
    reference_path = workdir / f"{project.name}.parquet"
    reference.to_parquet(reference_path, index=False)

    for prefix in (store.logs_dir(project.name), store.labels_dir(project.name)):
        if store.exists(prefix):
            store.fs.rm(prefix, recursive=True)  # the demo regenerates its own projects' data only
    logs = LogWriter(project.name, store, model_version="v1", max_rows=1_000_000, max_interval=3600)
    labels = LabelWriter(project.name, store, max_rows=1_000_000, max_interval=3600)
    with logs, labels:
        for hour in range(days * 24):
            moment = start + timedelta(hours=hour)
            rows = int(rng.poisson(100 * (1 + 0.4 * np.sin((moment.hour - 9) / 24 * 2 * np.pi))))
            frame = predict(project.generate(rng, rows, moment >= project.drift_start))
            frame.insert(
                0, "timestamp", [moment + timedelta(seconds=float(s)) for s in np.sort(rng.uniform(0, 3600, rows))]
            )
            known = rng.random(rows) < project.label_share
            truth = frame.pop("label")
            if project.labels_inline:
                frame["label"] = truth.where(known, None)
            request_ids = logs.log_frame(frame)
            if not project.labels_inline:
                for request_id, value, delay in zip(
                    np.array(request_ids)[known], truth[known], rng.uniform(1, 30, known.sum()), strict=True
                ):
                    labels.label(str(request_id), int(value), moment + timedelta(hours=float(delay)))
            logs.flush()
    return reference_path


class MailSink:
    """The demo's team inbox: a local SMTP server on loopback saving every message in a fresh `outbox` as NNN.eml."""

    def __init__(self, outbox: Path) -> None:
        from drifting_etl.notify.sink import Outbox

        self.outbox = outbox
        self.handler = Outbox(outbox)

    @property
    def received(self) -> list[Path]:
        return self.handler.received

    @contextmanager
    def running(self) -> Iterator[SmtpSettings]:
        from aiosmtpd.controller import Controller

        from drifting_etl.core.settings import SmtpSettings

        shutil.rmtree(self.outbox, ignore_errors=True)
        self.outbox.mkdir(parents=True)
        with socket.socket() as probe:  # a free port on loopback
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        controller = Controller(self.handler, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            yield SmtpSettings(host="127.0.0.1", port=port, sender="drifting-etl@demo.local")
        finally:
            controller.stop()


def run_demo(
    store: ArtifactStore,
    database: MetricsDatabase,
    *,
    end: datetime,
    days: int,
    seed: int,
    console: Console,
    report: bool = True,
    outbox: Path | None = None,
) -> None:
    from drifting_etl.pipeline.publish import Publisher

    start = end - timedelta(days=days)
    rng = np.random.default_rng(seed)
    store.ensure_layout()
    database.migrate()
    workdir = Path(tempfile.mkdtemp(prefix="drifting-demo-"))
    outbox = outbox or (Path(store.root) / "outbox" if store.is_local else Path("drifting-outbox"))
    sink = MailSink(outbox)
    with sink.running() as smtp:
        # the outbox starts empty on every demo: e-mail each drifted window again even when a previous demo did
        publisher = Publisher(store, database, report=report, smtp=smtp, force_notify=True)
        try:
            _run_projects(store, database, start, end, days, rng, workdir, publisher, console)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    console.print(f"artifact store   {store.url}")
    console.print(f"metrics database {database.display_url}")
    if report:
        console.print(f"reports          {store.display(store.path('reports'))}")
    console.print(f"e-mails          {len(sink.received)} sent to the demo's local SMTP sink, saved in {outbox}")
    console.print(
        "next: `drifting-etl project list`, `drifting-etl project show credit-default`, or query the tables "
        "monitoring_run, feature_drift, dataset_drift, data_quality, performance_metric"
    )


def _run_projects(
    store: ArtifactStore,
    database: MetricsDatabase,
    start: datetime,
    end: datetime,
    days: int,
    rng: np.random.Generator,
    workdir: Path,
    publisher: Publisher,
    console: Console,
) -> None:
    from drifting_etl.cli.output import backfill_with_progress, print_backfill
    from drifting_etl.store.projects import register

    for project in demo_projects(start):
        console.print(f"generating {days} days of hourly logs for [bold]{project.name}[/] …")
        reference_path = generate(store, project, start, days, rng, workdir)
        register(store, workdir / f"{project.name}.yaml", str(reference_path))
        config_schedule = project.config.split("schedule:")[1].split("\n")[0].strip().strip('"')
        windows = schedule_windows(config_schedule, start, end)
        result = backfill_with_progress(store, database, project.name, windows, publisher=publisher)
        outcomes = result.outcomes
        print_backfill(project.name, outcomes, result.failures, windows=len(windows))
        flagged = sorted({d.column for o in outcomes if o.evaluation for d in o.evaluation.feature_drift if d.drifted})
        verdict = "[green]matches[/]" if flagged == sorted(project.drifted_features) else "[red]differs from[/]"
        console.print(
            f"  drift flagged on {', '.join(flagged) or 'nothing'} — {verdict} the injected "
            f"{', '.join(project.drifted_features)} (from {project.drift_start:%Y-%m-%d %H:%M} UTC)\n"
        )

"""Project configuration: the YAML a team writes for one monitored model, validated once into frozen objects.

Validation errors name the file, the field and what is wrong. Unknown keys are rejected so that typos do not
silently fall back to defaults. `examples/project.yaml` is the commented reference.

Checks that need another stage's knowledge come in as `checks` (see `ConfigCheck`): core imports no other
package, so, for example, whether a drift method accepts a column's type is asked of the drift-method registry,
which the project registry (store/projects.py) passes in.
"""

from __future__ import annotations

import difflib
import enum
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drifting_etl.core.columns import ColumnType
from drifting_etl.core.drift_methods import DriftMethodChoice
from drifting_etl.core.errors import ConfigError
from drifting_etl.core.model_task import (
    CLASSIFICATION_METRICS,
    DEFAULT_METRICS,
    ESTIMATORS,
    REGRESSION_METRICS,
    Task,
)
from drifting_etl.core.names import PROJECT_NAME_PATTERN, retrain_dag_id
from drifting_etl.core.window import cron_expression

SendPolicy = Literal["always", "on_drift", "never"]
RetrainReason = Literal["dataset_drift", "performance"]
MultipleTesting = Literal["none", "bh", "holm"]
"""Control across a window's p-value tests: none (Evidently's per-test verdicts), Benjamini-Hochberg (false
discovery rate) or Holm (family-wise error rate)."""
CalibrationRule = Literal["quantile", "mean_3sd"]
AlertEvent = Literal["drift", "breach", "quality", "failed"]
"""What an alert channel can be told about a window: `drift` (the dataset or a feature drifted, persistently under
`drift.persistence`: what `alerts.send: on_drift` e-mails), `breach` (a performance threshold was breached),
`quality` (a feature's data quality beyond `alerts.data_quality`) or `failed` (the window's run failed)."""
ChannelType = Literal["slack", "webhook"]
"""`slack`: a Slack incoming webhook; `webhook`: the signed, versioned JSON payload (README: Alert channels)."""

_ENVIRONMENT_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    """'24h', '30m', '7d', '1w' or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like '30m', '24h' or '7d'")
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))})


_FORMAT_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_duration(value: timedelta) -> str:
    """The shortest whole-unit spelling parse_duration reads back: 30 days → '30d', 90 minutes → '90m'."""
    seconds = int(value.total_seconds())
    for unit, size in _FORMAT_UNITS:
        if seconds % size == 0 and (seconds or unit == "s"):
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every whole number of seconds has an 's' spelling")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Features(_Strict):
    numerical: tuple[str, ...] = ()
    """Columns compared as numbers (KS, Wasserstein, ...)."""
    categorical: tuple[str, ...] = ()
    """Columns compared as categories (chi-squared, Jensen-Shannon, ...)."""

    @model_validator(mode="after")
    def _distinct(self) -> Features:
        both = set(self.numerical) & set(self.categorical)
        if both:
            raise ValueError(f"{sorted(both)} listed as both numerical and categorical")
        names = [*self.numerical, *self.categorical]
        if len(names) != len(set(names)):
            raise ValueError("a feature is listed twice")
        if not names:
            raise ValueError("declare at least one numerical or categorical feature")
        return self

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.numerical, *self.categorical)


class Columns(_Strict):
    """Names of the service's columns in the logs."""

    request_id: str = "request_id"
    timestamp: str = "timestamp"
    model_version: str = "model_version"
    prediction: str = "prediction"
    prediction_proba: str | None = "prediction_proba"
    """The model's probabilities: P(positive class) as a number for a binary classifier, or a mapping class (as text)
    -> probability per row for any classifier; null if the service does not log them."""
    label: str = "label"


class FeatureDrift(_Strict):
    method: DriftMethodChoice = "auto"
    threshold: float | None = None


class Persistence(_Strict):
    """Alert and retrain only on drift that lasts: drifted in `min_drifted` of the last `windows` loaded windows."""

    windows: int = Field(ge=1, le=1000)
    min_drifted: int = Field(ge=1)

    @model_validator(mode="after")
    def _at_most_windows(self) -> Persistence:
        if self.min_drifted > self.windows:
            raise ValueError(f"min_drifted ({self.min_drifted}) must be at most windows ({self.windows})")
        return self


class Calibration(_Strict):
    """Thresholds calibrated on the reference: each feature's score on `chunks` reference chunks of `window_rows`
    rows, each against the rest of the reference, and the threshold at `quantile` (or mean + 3 standard deviations)
    of those no-drift scores."""

    window_rows: int = Field(ge=10)
    """Rows in a typical window of this project."""
    chunks: int = Field(default=50, ge=10, le=10_000)
    rule: CalibrationRule = "quantile"
    quantile: float = Field(default=0.99, gt=0.5, lt=1)
    """With rule quantile: the share of no-drift chunks that do not alert."""


class Drift(_Strict):
    method: DriftMethodChoice = "auto"
    """auto follows Evidently's DataDriftPreset: the test depends on column type, reference size and unique values."""
    threshold: float | None = None
    """null = the method's default threshold (its class in the drift-method registry; the README's table)."""
    per_feature: dict[str, FeatureDrift] = Field(default_factory=dict)
    dataset_drift_share: float = Field(default=0.5, gt=0, le=1)
    """The dataset drifts when at least this share of features drift."""
    multiple_testing: MultipleTesting = "none"
    """Adjust the p-values of a window's feature tests (ks, chisquare, ztest) together; a feature drifts when its
    adjusted p-value is below its threshold (with bh the threshold is the false discovery rate q)."""
    persistence: Persistence | None = None
    calibration: Calibration | None = None

    @model_validator(mode="after")
    def _one_threshold_policy(self) -> Drift:
        if self.calibration is not None and self.threshold is not None:
            raise ValueError("set drift.threshold or drift.calibration, not both: calibration sets every threshold")
        if self.calibration is not None and self.multiple_testing != "none":
            raise ValueError(
                "set drift.multiple_testing or drift.calibration, not both: calibrated thresholds already set each "
                "feature's false-alarm rate"
            )
        return self

    def for_feature(self, feature: str) -> FeatureDrift:
        override = self.per_feature.get(feature)
        if override is None:
            return FeatureDrift(method=self.method, threshold=self.threshold)
        if override.method == "auto" and override.threshold is None:
            return FeatureDrift(method=self.method, threshold=self.threshold)
        return override


class Bound(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one(self) -> Bound:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of min or max")
        return self


class Performance(_Strict):
    metrics: tuple[str, ...] | None = None
    """Which metrics to compute; null = all for the task."""
    thresholds: dict[str, Bound] = Field(default_factory=dict)
    positive_label: str | int | bool | None = None
    """Binary classifiers: the class `prediction_proba` is the probability of; null = 1 (or True), else the last class."""


class Labels(_Strict):
    max_delay: timedelta = timedelta(days=30)
    """How long after a row's hour its ground truth may still arrive in labels/ (label partitions dated up to this far on)."""

    @field_validator("max_delay", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


ReportEngine = Literal["profile", "evidently"]


class Report(_Strict):
    engine: ReportEngine = "profile"
    """profile: the page drawn from the window's profile and the metrics database (all rows, no log read);
    evidently: Evidently's interactive report on a uniform sample of the window's rows (a deep dive, slower)."""
    trend_windows: int = Field(default=10, ge=2, le=100)
    """Windows in the report's trend charts: this one and those before it."""


class Extract(_Strict):
    max_bad_file_share: float | None = Field(default=None, ge=0, lt=1)
    """Quarantine: a log file that cannot be read as the project's logs (corrupt, truncated, wrongly typed, lacking
    a column) is left out and named in the run record and the e-mail, as long as at most this share of the window's
    files is left out; above it the window fails. null (the default) = off: one bad file fails its window."""


class AlertChannel(_Strict):
    """Where a project's alerts go besides the e-mail: a Slack incoming webhook or a signed JSON webhook.

    Only the *names* of secrets are configured here: the URL (which for Slack is itself the credential) and the
    signing secret come from environment variables or an Airflow connection, never from this file."""

    name: str
    """Names the channel in logs and in `alert_delivery.channel`; unique within the project."""
    type: ChannelType
    url_env: str | None = None
    """The environment variable holding the URL to POST to."""
    secret_env: str | None = None
    """webhook: the environment variable holding the HMAC-SHA256 signing secret."""
    connection: str | None = None
    """An Airflow connection (host = the URL, password = the signing secret), used under Airflow; url_env and
    secret_env, when also given, are used elsewhere (the CLI)."""
    on: tuple[AlertEvent, ...]
    """The events sent to this channel: drift, breach, quality, failed."""

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not PROJECT_NAME_PATTERN.fullmatch(value):
            raise ValueError("must be a slug: lowercase letters, digits, '-' and '_', starting with a letter or digit")
        return value

    @field_validator("url_env", "secret_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENVIRONMENT_VARIABLE.fullmatch(value):
            # the value is not echoed: it may be the URL or secret itself, pasted where its variable's name belongs
            raise ValueError(
                "must be the name of an environment variable (letters, digits and '_') that holds the value, never "
                "the value itself"
            )
        return value

    @field_validator("connection")
    @classmethod
    def _connection_id(cls, value: str | None) -> str | None:
        if value is not None and not _CONNECTION_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not an Airflow connection id (letters, digits, '_', '-' and '.')")
        return value

    @field_validator("on")
    @classmethod
    def _distinct_events(cls, value: tuple[AlertEvent, ...]) -> tuple[AlertEvent, ...]:
        if not value:
            raise ValueError(f"list at least one event: {', '.join(typing.get_args(AlertEvent))}")
        repeated = sorted({event for event in value if value.count(event) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return value

    def problems(self) -> list[tuple[str, str]]:
        """What makes the channel unusable, as (key, message): where its URL and secret come from."""
        found: list[tuple[str, str]] = []
        if self.url_env is None and self.connection is None:
            found.append(
                (
                    "url_env",
                    f"channel {self.name!r} has no URL: set url_env to the environment variable holding it, or "
                    "connection to an Airflow connection whose host is the URL",
                )
            )
        if self.type == "webhook" and self.secret_env is None and self.connection is None:
            found.append(
                (
                    "secret_env",
                    f"webhook channel {self.name!r} signs its payload: set secret_env to the environment variable "
                    "holding the signing secret, or connection to an Airflow connection whose password is the secret",
                )
            )
        if self.type == "slack" and self.secret_env is not None:
            found.append(
                (
                    "secret_env",
                    f"Slack incoming webhooks are not signed: remove secret_env from channel {self.name!r} (its URL "
                    "is the secret: keep it in the variable url_env names)",
                )
            )
        return found


class QualityAlerts(_Strict):
    """When a feature's data quality alerts (under `alerts.send: on_drift`, as drift does). The defaults stay quiet
    on windows like the reference: they fire on a broken feed, not on noise."""

    missing_share_increase: float = Field(default=0.1, ge=0, le=1)
    """The window's missing share is more than this above the reference's (0.1: ten percentage points)."""
    out_of_range_share: float = Field(default=0.2, ge=0, le=1)
    """More than this share of a numerical feature's values lie outside the reference's range."""
    new_category_share: float = Field(default=0.2, ge=0, le=1)
    """More than this share of a categorical feature's values are categories the reference never had."""


class Alerts(_Strict):
    email: tuple[str, ...] = ()
    send: SendPolicy = "on_drift"
    data_quality: QualityAlerts = Field(default_factory=lambda: QualityAlerts())
    channels: tuple[AlertChannel, ...] = ()
    """Slack and webhook channels besides the e-mail, each told about the events it lists (README: Alert channels)."""

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    def problems(self) -> list[tuple[str, str]]:
        """Channel problems as (dotted field under `alerts`, message): duplicate names, unusable channels."""
        found: list[tuple[str, str]] = []
        first: dict[str, int] = {}
        for index, channel in enumerate(self.channels):
            if channel.name in first:
                found.append(
                    (
                        f"channels.{index}.name",
                        f"{channel.name!r} is already the name of alerts.channels.{first[channel.name]}: channel "
                        "names must be unique",
                    )
                )
            first.setdefault(channel.name, index)
            found.extend((f"channels.{index}.{key}", message) for key, message in channel.problems())
        return found


class Retrain(_Strict):
    dag_id: str | None = None
    """The DAG triggered on a breach; null = `retrain__<name>`, the reference retraining DAG shipped here."""
    on: tuple[RetrainReason, ...] = ("dataset_drift", "performance")
    cooldown: timedelta = timedelta(hours=24)
    """At most one trigger per cooldown, in data time (window ends) and in wall-clock time (so a backfill triggers once)."""
    training_window: timedelta = timedelta(days=14)
    """The reference retraining DAG trains on labelled logs from this long before the breaching window's end."""
    estimator: str | None = None
    """An allow-listed scikit-learn estimator (`model_task.ESTIMATOR_ALLOW_LIST`); null = the task's default there."""
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    """Keyword arguments of the estimator (scalars only)."""
    holdout: float = Field(default=0.2, gt=0, lt=1)
    """Share of the training window, the latest rows, kept to compare the new model with the current one."""
    min_improvement: float = 0.0
    """Promote the new model (and its training window as the reference) only if it beats the current one by this."""

    @field_validator("cooldown", "training_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class ProjectConfig(_Strict):
    """One monitored model."""

    name: str
    task: Task
    schedule: str = "@daily"
    start_date: date
    catchup: bool = True
    """Airflow processes every window since start_date (history is monitored), not only the latest."""
    features: Features
    columns: Columns = Field(default_factory=lambda: Columns())
    drift: Drift = Field(default_factory=lambda: Drift())
    performance: Performance = Field(default_factory=lambda: Performance())
    labels: Labels = Field(default_factory=lambda: Labels())
    extract: Extract = Field(default_factory=lambda: Extract())
    report: Report = Field(default_factory=lambda: Report())
    alerts: Alerts = Field(default_factory=lambda: Alerts())
    retrain: Retrain = Field(default_factory=lambda: Retrain())

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not PROJECT_NAME_PATTERN.fullmatch(value):
            raise ValueError("must be a slug: lowercase letters, digits, '-' and '_', starting with a letter or digit")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        try:
            cron_expression(value)
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        return value

    def problems(self) -> list[tuple[str, str]]:
        """Cross-field inconsistencies as (dotted field, message); `parse_config` reports them like field errors."""
        found: list[tuple[str, str]] = []
        features = set(self.features.all)
        for feature in self.drift.per_feature:
            field = f"drift.per_feature.{feature}"
            if feature not in features:
                found.append((field, f"{feature!r} is not a declared feature"))
        allowed = CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
        for index, metric in enumerate(self.performance.metrics or ()):
            if metric not in allowed:
                found.append(
                    (
                        f"performance.metrics.{index}",
                        f"performance metric {metric!r} is not one of {', '.join(allowed)} for {self.task}",
                    )
                )
        for metric in self.performance.thresholds:
            if metric not in allowed:
                found.append(
                    (
                        f"performance.thresholds.{metric}",
                        f"performance metric {metric!r} is not one of {', '.join(allowed)} for {self.task}",
                    )
                )
        estimator = self.retrain.estimator
        if estimator is not None and estimator not in ESTIMATORS[self.task]:
            found.append(
                ("retrain.estimator", f"{estimator!r} is not one of {', '.join(ESTIMATORS[self.task])} for {self.task}")
            )
        found.extend((f"alerts.{field}", message) for field, message in self.alerts.problems())
        reserved = {self.columns.request_id, self.columns.timestamp, self.columns.prediction, self.columns.label}
        clash = sorted(features & reserved)
        if clash:
            found.append(("features", f"features {clash} clash with the request id/timestamp/prediction/label columns"))
        return found

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.performance.metrics or DEFAULT_METRICS[self.task]

    @property
    def retrain_dag_id(self) -> str:
        return self.retrain.dag_id or retrain_dag_id(self.name)

    def column_type(self, feature: str) -> ColumnType:
        return "numerical" if feature in self.features.numerical else "categorical"

    def monitored_columns(self) -> dict[str, ColumnType]:
        """Every column whose distribution is compared with the reference: the features, then the prediction."""
        columns: dict[str, ColumnType] = {name: self.column_type(name) for name in self.features.all}
        columns[self.columns.prediction] = "categorical" if self.task == "classification" else "numerical"
        return columns


class _YamlLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 would read the key `on:` (retrain.on) as True."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


CONFIG_HINT = "run 'drifting-etl config example' for a commented example of every key"

_PLAIN_TYPES = {
    "date_parsing": "must be a date like 2026-01-31",
    "date_from_datetime_parsing": "must be a date like 2026-01-31",
    "date_type": "must be a date like 2026-01-31",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of keys",
    "model_type": "must be a mapping of keys",
    "model_attributes_type": "must be a mapping of keys",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of an `X | None` (or a plain annotation as one alternative)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return [annotation]


def _annotation_at(loc: Sequence[str | int]) -> Any:
    """The type annotation at a pydantic error location in `ProjectConfig` (None when it cannot be followed)."""
    current: Any = ProjectConfig
    for part in loc:
        for candidate in _unwrap(current):
            origin = typing.get_origin(candidate)
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                fields = {name: info for name, info in candidate.model_fields.items()}
                fields.update({info.alias: info for info in candidate.model_fields.values() if info.alias})
                if isinstance(part, str) and part in fields:
                    current = fields[part].annotation
                    break
            elif origin is dict:
                current = typing.get_args(candidate)[1]
                break
            elif origin in (tuple, list) and isinstance(part, int):
                current = typing.get_args(candidate)[0]
                break
        else:
            return None
    return current


def _choices(annotation: Any) -> tuple[Any, ...]:
    """The allowed values of a Literal or Enum annotation (empty if it is neither)."""
    for candidate in _unwrap(annotation):
        if typing.get_origin(candidate) is Literal:
            return typing.get_args(candidate)
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return tuple(member.value for member in candidate)
    return ()


def describe_error(error: Mapping[str, Any]) -> str:
    """A pydantic validation error as a plain sentence about the user's YAML, without pydantic's wording."""
    kind = error["type"]
    loc = tuple(error["loc"])
    value = error.get("input")
    if kind == "missing":
        return "missing required key"
    if kind == "extra_forbidden":
        parent = _annotation_at(loc[:-1])
        known: list[str] = []
        for candidate in _unwrap(parent):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                known = [*candidate.model_fields, *(i.alias for i in candidate.model_fields.values() if i.alias)]
        key = str(loc[-1])
        close = difflib.get_close_matches(key, known, n=1)
        return f"unknown key {key!r}" + (f" \N{EM DASH} did you mean {close[0]!r}?" if close else "")
    if kind in ("literal_error", "enum"):
        allowed = _choices(_annotation_at(loc))
        if allowed:
            return f"{_shown(value)} is not one of {', '.join(str(choice) for choice in allowed)}"
        expected = str((error.get("ctx") or {}).get("expected", "")).replace("'", "")
        return f"{_shown(value)} is not one of {expected.replace(' or ', ', ')}"
    if kind in ("value_error", "assertion_error"):
        cause = (error.get("ctx") or {}).get("error")
        return str(cause) if cause is not None else re.sub(r"^(Value|Assertion) error, ", "", error["msg"])
    if kind in _PLAIN_TYPES:
        return f"{_PLAIN_TYPES[kind]}, got {_shown(value)}"
    message = re.sub(r"^(Value|Assertion) error, ", "", error["msg"])
    if message.startswith("Input should be"):
        message = "must be" + message.removeprefix("Input should be").split(",")[0]
        return f"{message}, got {_shown(value)}"
    return message


ConfigCheck = Callable[[ProjectConfig], list[tuple[str, str]]]
"""A check of a valid configuration against another stage's rules: problems as (dotted field, message)."""


def parse_config(text: str, *, source: str, checks: Sequence[ConfigCheck] = ()) -> ProjectConfig:
    """Validate YAML text; `source` (a file name) goes into every error message. `checks` run after the
    configuration's own, and their problems are reported with the same file and fields."""
    try:
        raw = yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}", path=source) from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of configuration keys at the top level", path=source)
    try:
        config = ProjectConfig.model_validate(raw)
        problems = config.problems()
        for check in checks:
            problems.extend(check(config))
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in error["loc"]) or "(top level)", describe_error(error))
            for error in exc.errors()
        ]
    if problems:
        raise ConfigError(
            f"{source}: invalid project configuration\n"
            + "\n".join(f"  {field}: {message}" for field, message in problems),
            path=source,
            hint=CONFIG_HINT,
        ) from None
    return config


def load_config(path: str | Path, *, checks: Sequence[ConfigCheck] = ()) -> ProjectConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read project configuration {path}: {exc.strerror}", path=str(path)) from exc
    return parse_config(text, source=str(path), checks=checks)


def dump_config(config: ProjectConfig) -> str:
    """YAML for storing a validated configuration (durations as '30d', '90m', …; dates ISO)."""
    data = config.model_dump(mode="json", exclude_none=False)
    data["labels"]["max_delay"] = format_duration(config.labels.max_delay)
    data["retrain"]["cooldown"] = format_duration(config.retrain.cooldown)
    data["retrain"]["training_window"] = format_duration(config.retrain.training_window)
    return yaml.safe_dump(data, sort_keys=False)

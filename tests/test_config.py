"""Tests of project configuration: the shipped example, the YAML round trip, and errors that name file and field."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import get_args

import pytest
import yaml

from drifting_etl.core.config import (
    Columns,
    FeatureDrift,
    ProjectConfig,
    dump_config,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
)
from drifting_etl.core.drift_methods import DriftMethodChoice
from drifting_etl.core.errors import ConfigError, DriftingError
from drifting_etl.store.projects import parse_project_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "project.yaml"
SOURCE = "projects/credit.yaml"

MINIMAL = """\
name: churn
task: regression
start_date: 2026-02-01
features:
  numerical: [tenure]
"""


def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def edited(old: str, new: str) -> str:
    """The example with one exact edit (which must apply, so a drifted example cannot make a test vacuous)."""
    text = example_text()
    assert text.count(old) == 1, f"{old!r} should occur once in examples/project.yaml"
    return text.replace(old, new)


def config_error(text: str, source: str = SOURCE) -> ConfigError:
    """The error a project's configuration gets where it is registered or loaded: its own rules and the registry's."""
    with pytest.raises(ConfigError) as caught:
        parse_project_config(text, source=source)
    return caught.value


# ---------------------------------------------------------------------------------------------- the example


def test_load_config_given_shipped_example_should_keep_every_key_meaning() -> None:
    config = load_config(EXAMPLE)

    assert config.name == "credit-default"
    assert config.task == "classification"
    assert config.schedule == "@daily"
    assert config.start_date == date(2026, 1, 1)
    assert config.features.numerical == ("age", "income", "debt_ratio")
    assert config.features.categorical == ("region", "employment")
    assert config.columns == Columns()  # the example spells out the defaults
    assert (config.columns.request_id, config.columns.timestamp, config.columns.model_version) == (
        "request_id",
        "timestamp",
        "model_version",
    )
    assert (config.columns.prediction, config.columns.prediction_proba, config.columns.label) == (
        "prediction",
        "prediction_proba",
        "label",
    )
    assert config.drift.method == "auto"
    assert config.drift.threshold is None
    assert config.drift.per_feature == {"income": FeatureDrift(method="psi", threshold=0.2)}
    assert config.drift.for_feature("income") == FeatureDrift(method="psi", threshold=0.2)
    assert config.drift.for_feature("age") == FeatureDrift(method="auto", threshold=None)
    assert config.drift.dataset_drift_share == 0.5
    assert config.metrics == ("accuracy", "f1", "roc_auc")
    assert set(config.performance.thresholds) == {"roc_auc"}
    assert config.performance.thresholds["roc_auc"].min == 0.75
    assert config.performance.thresholds["roc_auc"].max is None
    assert config.performance.positive_label is None
    assert config.labels.max_delay == timedelta(days=30)
    assert config.alerts.email == ("risk-ml@example.com",)
    assert config.alerts.send == "on_drift"
    assert config.alerts.channels == ()  # the example's channels are commented out: see the next test
    assert config.retrain.dag_id == config.retrain_dag_id == "retrain__credit-default"
    assert config.retrain.on == ("dataset_drift", "performance")
    assert config.retrain.cooldown == timedelta(hours=24)
    assert config.column_type("income") == "numerical"
    assert config.column_type("region") == "categorical"


def example_with_channels() -> str:
    """The example with its commented-out `alerts.channels` block uncommented in place of `channels: []`."""
    lines = example_text().splitlines(keepends=True)
    [active] = [index for index, line in enumerate(lines) if line.startswith("  channels: []")]
    block = active + 1
    end = block
    while lines[end].startswith("  # "):
        end += 1
    assert lines[block] == "  # channels:\n" and end - block > 5, "the example's channels block moved"
    uncommented = ["  " + line.removeprefix("  # ") for line in lines[block:end]]
    return "".join(lines[:active] + uncommented + lines[end:])


def test_load_config_given_the_examples_commented_channels_should_read_their_documented_meaning() -> None:
    config = parse_config(example_with_channels(), source=SOURCE)

    slack, pager = config.alerts.channels
    assert (slack.name, slack.type, slack.url_env, slack.secret_env, slack.connection) == (
        "team-slack",
        "slack",
        "DRIFTING_SLACK_URL",
        None,
        None,  # `connection` is shown as a comment inside the commented block
    )
    assert slack.on == ("drift", "breach", "failed")
    assert (pager.name, pager.type, pager.url_env, pager.secret_env) == (
        "pager",
        "webhook",
        "PAGER_URL",
        "PAGER_SECRET",
    )
    assert pager.on == ("failed", "breach")
    assert parse_config(dump_config(config), source="dumped.yaml") == config


def test_parse_config_given_unquoted_on_key_should_read_it_as_a_string_key() -> None:
    text = example_text()
    assert "\n  on: [dataset_drift, performance]\n" in text, "the example should use the bare YAML 1.1 boolean word"
    # Plain PyYAML (YAML 1.1) reads the bare key `on` as the boolean True: the reason for the custom loader.
    assert True in yaml.safe_load(text)["retrain"]

    config = parse_config(text, source=SOURCE)

    assert config.retrain.on == ("dataset_drift", "performance")


def test_parse_config_should_not_change_how_pyyaml_safe_load_reads_booleans() -> None:
    parse_config(example_text(), source=SOURCE)

    assert yaml.safe_load("on: yes\noff: no") == {True: True, False: False}


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n"])
def test_parse_config_given_yaml_1_1_boolean_word_as_value_should_keep_it_as_text(word: str) -> None:
    config = parse_config(MINIMAL + f"performance:\n  positive_label: {word}\n", source=SOURCE)

    assert config.performance.positive_label == word


@pytest.mark.parametrize(
    ("literal", "value"), [("true", True), ("false", False), ("1", 1), ("'1'", "1"), ("late", "late")]
)
def test_parse_config_given_positive_label_should_keep_its_yaml_type(literal: str, value: object) -> None:
    config = parse_config(MINIMAL + f"performance:\n  positive_label: {literal}\n", source=SOURCE)

    assert config.performance.positive_label == value
    assert type(config.performance.positive_label) is type(value)


def test_parse_config_given_minimal_file_should_fill_documented_defaults() -> None:
    config = parse_config(MINIMAL, source=SOURCE)

    assert config.schedule == "@daily"
    assert config.columns == Columns()
    assert config.drift.method == "auto" and config.drift.per_feature == {} and config.drift.dataset_drift_share == 0.5
    assert config.metrics == ("mae", "rmse", "mape", "r2")
    assert config.labels.max_delay == timedelta(days=30)
    assert config.alerts.email == () and config.alerts.send == "on_drift"
    assert config.retrain.on == ("dataset_drift", "performance")
    assert config.retrain.cooldown == timedelta(hours=24)
    assert config.retrain_dag_id == "retrain__churn"


# ---------------------------------------------------------------------------------------------- round trip


def test_dump_config_given_shipped_example_should_parse_back_to_an_equal_config() -> None:
    config = load_config(EXAMPLE)

    dumped = dump_config(config)

    assert parse_config(dumped, source="dumped.yaml") == config
    assert dump_config(parse_config(dumped, source="dumped.yaml")) == dumped


def test_dump_config_given_non_default_values_should_round_trip_every_field() -> None:
    text = """\
name: house-prices_2
task: regression
schedule: "15 */6 * * 1-5"
start_date: 2025-12-31
features:
  numerical: [area, rooms]
  categorical: [district]
columns: {request_id: rid, timestamp: ts, model_version: mv, prediction: yhat, prediction_proba: null, label: y}
drift:
  method: wasserstein
  threshold: 0.15
  per_feature:
    district: {method: jensenshannon}
    rooms: {threshold: 0.01}
  dataset_drift_share: 0.25
performance:
  metrics: [mae, r2]
  thresholds: {mae: {max: 12.5}, r2: {min: 0.6}}
  positive_label: true
labels: {max_delay: 90m}
alerts: {email: [a@example.com, b.c@example.org], send: always}
retrain: {dag_id: null, on: [performance], cooldown: 3600}
"""
    config = parse_config(text, source=SOURCE)
    assert config.labels.max_delay == timedelta(minutes=90)
    assert config.retrain.cooldown == timedelta(hours=1)
    assert config.columns.prediction_proba is None

    restored = parse_config(dump_config(config), source="dumped.yaml")

    assert restored == config
    assert restored.retrain.on == ("performance",)
    assert restored.performance.positive_label is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)), (" 7d ", timedelta(days=7)), ("1w", timedelta(weeks=1)),
     ("45s", timedelta(seconds=45)), (90, timedelta(seconds=90)), (1.5, timedelta(seconds=1.5)),
     (timedelta(hours=2), timedelta(hours=2))],
)  # fmt: skip
def test_parse_duration_given_supported_forms_should_give_timedelta(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(timedelta(days=30), "30d"), (timedelta(hours=1), "1h"), (timedelta(minutes=90), "90m"),
     (timedelta(hours=36), "36h"), (timedelta(seconds=45), "45s"), (timedelta(0), "0s")],
)  # fmt: skip
def test_format_duration_given_whole_units_should_give_the_shortest_spelling_parse_duration_reads_back(
    value: timedelta, expected: str
) -> None:
    assert format_duration(value) == expected
    assert parse_duration(expected) == value


def test_dump_config_should_write_durations_in_their_largest_whole_unit() -> None:
    dumped = dump_config(parse_config(EXAMPLE.read_text(), source="example.yaml"))
    lines = {line.strip() for line in dumped.splitlines()}
    assert {"max_delay: 30d", "cooldown: 1d", "training_window: 14d"} <= lines, dumped


@pytest.mark.parametrize("value", ["1 day", "soon", "-1h", "1.5h", "h", "", True])
def test_parse_duration_given_unsupported_form_should_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(value)


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("old", "new", "field", "fragment"),
    [
        ("name: credit-default ", "name: Credit_Default ", "name", "slug"),
        ("name: credit-default ", "name: -credit ", "name", "slug"),
        ("task: classification ", "task: ranking ", "task", "'ranking' is not one of classification, regression"),
        ("schedule:", "schedul:", "schedul", "unknown key 'schedul' \N{EM DASH} did you mean 'schedule'?"),
        (
            "  threshold: null ",
            "  treshold: null ",
            "drift.treshold",
            "unknown key 'treshold' \N{EM DASH} did you mean 'threshold'?",
        ),
        ('schedule: "@daily"', 'schedule: "every day"', "schedule", "not a cron expression"),
        ('schedule: "@daily"', 'schedule: "0 0 * *"', "schedule", "not a cron expression"),
        ('schedule: "@daily"', 'schedule: "0 0 * * * *"', "schedule", "not a cron expression"),
        ('schedule: "@daily"', 'schedule: "61 * * * *"', "schedule", "not a cron expression"),
        (
            "roc_auc: {min: 0.75}",
            "roc_auc: {min: 0.75, max: 0.9}",
            "performance.thresholds.roc_auc",
            "exactly one of min or max",
        ),
        ("roc_auc: {min: 0.75}", "roc_auc: {}", "performance.thresholds.roc_auc", "exactly one of min or max"),
        (
            "[risk-ml@example.com]",
            "[risk-ml@example.com, risk-ml]",
            "alerts.email",
            "'risk-ml' is not an e-mail address",
        ),
        ("cooldown: 24h", "cooldown: 1 day", "retrain.cooldown", "'1 day' is not a duration"),
        ("max_delay: 30d ", "max_delay: soon ", "labels.max_delay", "'soon' is not a duration"),
        (
            "on: [dataset_drift, performance]",
            "on: [drift]",
            "retrain.on.0",
            "'drift' is not one of dataset_drift, performance",
        ),
        ("send: on_drift ", "send: sometimes ", "alerts.send", "'sometimes' is not one of always, on_drift, never"),
        (
            "dataset_drift_share: 0.5 ",
            "dataset_drift_share: 0 ",
            "drift.dataset_drift_share",
            "must be greater than 0, got 0",
        ),
        (
            "income: {method: psi",
            "income: {method: kl",
            "drift.per_feature.income.method",
            "'kl' is not one of auto, ks, chisquare",
        ),
        (
            "start_date: 2026-01-01 ",
            "start_date: someday ",
            "start_date",
            "must be a date like 2026-01-31, got 'someday'",
        ),
        (
            "categorical: [region, employment]",
            "categorical: [region, age]",
            "features",
            "both numerical and categorical",
        ),
    ],
)
def test_parse_config_given_invalid_field_should_raise_config_error_naming_file_and_dotted_field(
    old: str, new: str, field: str, fragment: str
) -> None:
    error = config_error(edited(old, new))

    message = str(error)
    assert isinstance(error, DriftingError) and not error.transient
    assert message.startswith(f"{SOURCE}: invalid project configuration")
    assert f"\n  {field}: " in message, message
    assert fragment in message, message
    assert error.path == SOURCE  # type: ignore[attr-defined]
    assert "drifting-etl config example" in message  # the hint says where every key is explained


def test_parse_config_given_several_mistakes_should_report_each_field() -> None:
    text = edited("task: classification ", "task: ranking ").replace("cooldown: 24h", "cooldown: soon")

    message = str(config_error(text))

    assert "\n  task: " in message
    assert "\n  retrain.cooldown: " in message


def test_parse_config_given_per_feature_for_undeclared_feature_should_name_the_field_and_feature() -> None:
    message = str(config_error(edited("income: {method: psi", "salary: {method: psi")))

    assert message.startswith(f"{SOURCE}: ")
    assert "drift.per_feature" in message
    assert "'salary'" in message


def test_parse_config_given_feature_named_like_a_reserved_column_should_raise_config_error() -> None:
    message = str(config_error(edited("numerical: [age, income, debt_ratio]", "numerical: [age, income, label]")))

    assert message.startswith(f"{SOURCE}: ")
    assert "features ['label'] clash" in message


@pytest.mark.parametrize("method", ["wasserstein", "ks"])
def test_parse_config_given_numerical_only_method_on_categorical_feature_should_raise_config_error(method: str) -> None:
    message = str(config_error(edited("income: {method: psi, threshold: 0.2}", f"region: {{method: {method}}}")))

    assert message.startswith(f"{SOURCE}: ")
    assert f"'{method}'" in message
    assert "'region' is categorical" in message


@pytest.mark.parametrize("method", ["wasserstein", "ks"])
def test_parse_config_given_numerical_only_method_on_categorical_feature_should_name_dotted_field(method: str) -> None:
    message = str(config_error(edited("income: {method: psi, threshold: 0.2}", f"region: {{method: {method}}}")))

    assert "drift.per_feature.region" in message, message


@pytest.mark.parametrize("method", ["wasserstein", "ks"])
def test_parse_project_config_given_numerical_only_drift_method_inherited_by_categorical_feature_should_name_drift_method(
    method: str,
) -> None:
    message = str(config_error(edited("  method: auto ", f"  method: {method} ")))

    assert message.startswith(f"{SOURCE}: ")
    assert f"\n  drift.method: '{method}' needs a numerical feature; 'region' is categorical" in message, message
    assert "drift.per_feature.region.method" in message  # what to do: give the feature its own method
    assert "the prediction 'prediction' of a classification model is categorical" in message, message


def test_parse_project_config_given_categorical_features_with_their_own_methods_should_accept_a_numerical_only_default() -> (
    None
):
    text = MINIMAL.replace("  numerical: [tenure]", "  numerical: [tenure]\n  categorical: [plan]") + (
        "drift:\n  method: wasserstein\n  per_feature:\n    plan: {method: chisquare}\n"
    )

    config = parse_project_config(text, source=SOURCE)  # a regressor: its prediction is numerical

    assert config.drift.for_feature("plan").method == "chisquare"
    assert config.drift.for_feature("tenure").method == "wasserstein"


def test_parse_config_given_checks_should_report_their_problems_with_the_file_and_field_like_its_own() -> None:
    text = edited("income: {method: psi, threshold: 0.2}", "region: {method: ks}")
    assert parse_config(text, source=SOURCE).drift.for_feature("region").method == "ks"  # core cannot ask metrics

    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=SOURCE, checks=[lambda config: [("drift.per_feature.region.method", "a problem")]])

    assert str(caught.value).startswith(f"{SOURCE}: invalid project configuration")
    assert "\n  drift.per_feature.region.method: a problem" in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "metric"),
    [
        ("roc_auc: {min: 0.75}", "mae: {max: 0.75}", "'mae'"),
        ("[accuracy, f1, roc_auc]", "[accuracy, r2]", "'r2'"),
    ],
)
def test_parse_config_given_metric_of_the_other_task_should_raise_config_error(old: str, new: str, metric: str) -> None:
    message = str(config_error(edited(old, new)))

    assert message.startswith(f"{SOURCE}: ")
    assert f"performance metric {metric} is not one of" in message
    assert "for classification" in message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("roc_auc: {min: 0.75}", "mae: {max: 0.75}", "performance.thresholds.mae"),
        ("[accuracy, f1, roc_auc]", "[accuracy, r2]", "performance.metrics"),
    ],
)
def test_parse_config_given_metric_of_the_other_task_should_name_dotted_field(old: str, new: str, field: str) -> None:
    message = str(config_error(edited(old, new)))

    assert field in message, message


def test_parse_config_given_invalid_yaml_syntax_should_raise_config_error_naming_file_and_line() -> None:
    error = config_error("name: credit\nfeatures: [age, income\ntask: classification\n")

    message = str(error)
    assert message.startswith(f"{SOURCE}: not valid YAML")
    assert "line" in message
    assert error.path == SOURCE  # type: ignore[attr-defined]
    assert isinstance(error.__cause__, yaml.YAMLError)


@pytest.mark.parametrize(
    "text", ["- name: credit\n- task: classification\n", "just a string\n", "42\n", "", "# only a comment\n"]
)
def test_parse_config_given_top_level_not_a_mapping_should_raise_config_error(text: str) -> None:
    error = config_error(text)

    assert str(error).startswith(f"{SOURCE}: expected a mapping")
    assert error.path == SOURCE  # type: ignore[attr-defined]


def test_load_config_given_missing_file_should_raise_config_error_naming_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "project.yaml"

    with pytest.raises(ConfigError) as caught:
        load_config(missing)

    assert str(missing) in str(caught.value)
    assert caught.value.path == str(missing)  # type: ignore[attr-defined]
    assert isinstance(caught.value.__cause__, OSError)


def test_load_config_given_invalid_file_should_name_the_file_path_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(edited("task: classification ", "task: ranking "), encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).startswith(f"{path}: invalid project configuration")
    assert "\n  task: " in str(caught.value)


def test_project_config_given_valid_config_should_be_frozen() -> None:
    config = load_config(EXAMPLE)

    with pytest.raises(Exception, match="frozen"):
        setattr(config, "name", "other")  # noqa: B010 - assignment is what is tested
    assert isinstance(config, ProjectConfig)


# ------------------------------------------------------------------------------ error wording without pydantic's


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("features:", "featurs:", "  featurs: unknown key 'featurs' \N{EM DASH} did you mean 'features'?"),
        (
            "  threshold: null ",
            "  treshold: null ",
            "  drift.treshold: unknown key 'treshold' \N{EM DASH} did you mean 'threshold'?",
        ),
        (
            "income: {method: psi",
            "income: {methd: psi",
            "  drift.per_feature.income.methd: unknown key 'methd' \N{EM DASH} did you mean 'method'?",
        ),
        ("schedule:", "zzzzzz:", "  zzzzzz: unknown key 'zzzzzz'"),
    ],
)
def test_parse_config_given_unknown_key_should_suggest_the_closest_key_at_its_level(
    old: str, new: str, line: str
) -> None:
    lines = config_error(edited(old, new)).message.splitlines()

    assert line in lines, lines


def test_parse_config_given_bad_drift_method_should_list_every_allowed_method() -> None:
    lines = config_error(edited("  method: auto ", "  method: kolmogorov-magic ")).message.splitlines()

    allowed = ", ".join(get_args(DriftMethodChoice))
    assert f"  drift.method: 'kolmogorov-magic' is not one of {allowed}" in lines, lines
    assert allowed.startswith("auto, ks, ")


def test_parse_config_given_missing_key_should_say_missing_required_key() -> None:
    lines = config_error(MINIMAL.replace("name: churn\n", "")).message.splitlines()

    assert "  name: missing required key" in lines, lines


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("features:", "featurs:"),
        ("  method: auto ", "  method: kolmogorov-magic "),
        ("task: classification ", "task: ranking "),
        ("name: credit-default ", "name: Credit_Default "),
        ("start_date: 2026-01-01 ", "start_date: someday "),
        ("catchup: true", "catchup: maybe"),
        ("dataset_drift_share: 0.5 ", "dataset_drift_share: 0 "),
        ("cooldown: 24h", "cooldown: soon"),
        ("holdout: 0.2", "holdout: lots"),
        ("[risk-ml@example.com]", "5"),
        ("roc_auc: {min: 0.75}", "roc_auc: {}"),
    ],
)
def test_parse_config_given_bad_config_should_not_use_pydantic_wording(old: str, new: str) -> None:
    message = str(config_error(edited(old, new)))

    for phrase in ("Extra inputs are not permitted", "Input should be", "Value error", "Field required", "pydantic"):
        assert phrase not in message, message


# ------------------------------------------------------------------------------------ drifting-etl config example


def test_config_example_given_cli_should_print_the_example_that_loads_as_a_valid_config(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from drifting_etl.cli.main import main

    result = CliRunner().invoke(main, ["config", "example"])

    assert result.exit_code == 0, result.output
    assert result.output == example_text()  # examples/project.yaml is the single source
    written = tmp_path / "project.yaml"
    written.write_text(result.output, encoding="utf-8")
    assert load_config(written) == load_config(EXAMPLE)
    assert "# " in result.output  # the comments that explain each key come along


def test_pyproject_given_wheel_build_should_ship_the_example_where_config_example_reads_it() -> None:
    import tomllib

    from drifting_etl.core.resources import EXAMPLE_PROJECT

    build = tomllib.loads((EXAMPLE.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    included = build["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["examples/project.yaml"] == f"drifting_etl/core/{EXAMPLE_PROJECT}"

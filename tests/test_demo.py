"""`drifting-etl demo` end to end: drift is flagged on exactly the injected features, in the windows after injection."""

from __future__ import annotations

import os
import re
import subprocess
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from click.testing import CliRunner

from drifting_etl.cli.demo import demo_projects
from drifting_etl.cli.main import main
from drifting_etl.load.database import MetricsDatabase


@pytest.mark.slow
def test_demo_given_fresh_storage_should_flag_exactly_the_injected_features(tmp_path: Path) -> None:
    storage = tmp_path / ".drifting"
    result = CliRunner().invoke(
        main, ["--storage", str(storage), "demo", "--end", "2026-02-09"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "differs" not in result.output

    database = MetricsDatabase(f"sqlite:///{storage / 'metrics.db'}")
    runs = {project: database.runs(project) for project in ("credit-default", "delivery-eta")}
    assert len(runs["credit-default"]) == 7 and len(runs["delivery-eta"]) == 28
    injected = {p.name: p for p in demo_projects(runs["credit-default"][0]["window_start"])}
    for name, project_runs in runs.items():
        assert all(run["status"] == "success" and run["row_count"] > 0 for run in project_runs)
        for run in project_runs:
            rows = database.rows("feature_drift", name, run["window_start"], run["window_end"])
            flagged = {row["feature"] for row in rows if row["drifted"] and row["feature_kind"] == "feature"}
            after_injection = run["window_start"] >= injected[name].drift_start
            assert flagged == (set(injected[name].drifted_features) if after_injection else set()), (name, run)
            [dataset] = database.rows("dataset_drift", name, run["window_start"], run["window_end"])
            assert dataset["drifted"] == (after_injection and name == "credit-default")
        performance = database.rows("performance_metric", name)
        assert performance and all(row["labelled_count"] > 0 and row["value"] is not None for row in performance)

    # every window has its stored report; each drifted window e-mailed the team through the local SMTP sink,
    # with a link that opens the stored report
    drifted_windows = 0
    for name, project_runs in runs.items():
        for run in project_runs:
            assert Path(run["report_location"]).is_file()
            drifted = any(
                r["drifted"] for r in database.rows("feature_drift", name, run["window_start"], run["window_end"])
            )
            drifted_windows += drifted
            assert run["notification_status"] == ("sent" if drifted else "skipped")
    mails = sorted((storage / "outbox").glob("*.eml"))
    assert len(mails) == drifted_windows == 4 + 12
    message = BytesParser(policy=policy.default).parsebytes(mails[0].read_bytes())
    link = re.search(r'href="(file://[^"]+)"', message.get_body(preferencelist=("html",)).get_content())
    assert link is not None and Path(unquote(urlparse(link.group(1)).path)).is_file()

    # the demo can be run again: it regenerates its own projects' data without duplicating anything
    again = CliRunner().invoke(
        main, ["--storage", str(storage), "demo", "--end", "2026-02-09", "--no-report"], catch_exceptions=False
    )
    assert again.exit_code == 0
    assert len(database.runs("credit-default")) == 7
    assert len(list((storage / "outbox").glob("*.eml"))) == drifted_windows  # a fresh outbox, e-mailed again
    database.dispose()


def _bash_block_after(readme: str, marker: str) -> str:
    """The first ```bash block after `marker` in the README."""
    return readme[readme.index(marker) :].split("```bash\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_readme_commands_given_the_demo_should_run_verbatim_on_its_data(tmp_path: Path) -> None:
    """The README's commands a new user runs in a checkout after `make demo`, as written, in its order: the quick
    start's "then try", then in one shell the "A project" walkthrough (which activates the venv) and the on-demand
    report."""
    repository = Path(__file__).resolve().parents[1]
    readme = (repository / "README.md").read_text()
    blocks = [
        _bash_block_after(readme, "then try"),
        _bash_block_after(readme, "### A project") + _bash_block_after(readme, "## Reports and e-mail"),
    ]
    assert blocks[0].count(".venv/bin/drifting-etl ") == 3
    assert "project register" in blocks[1] and "report credit-default" in blocks[1]
    (tmp_path / ".venv").symlink_to(repository / ".venv")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DRIFTING_")}
    demo = subprocess.run(
        [".venv/bin/drifting-etl", "demo", "--no-report"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert demo.returncode == 0, demo.stderr

    outputs = []
    for block in blocks:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, (block, done.stdout, done.stderr)
        assert "warning" not in done.stderr and "no data" not in done.stdout, (block, done.stdout, done.stderr)
        outputs.append(done.stdout)
    assert "DRIFT" in outputs[0]  # the last "then try" command runs a window whose inputs drifted
    assert "registered credit-default" in outputs[1] and "7 windows" in outputs[1]
    assert (tmp_path / "credit.yaml").read_text() == (repository / "examples" / "project.yaml").read_text()
    assert "Built from the window's merged profile" in (tmp_path / "report.html").read_text()

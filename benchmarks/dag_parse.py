"""How long Airflow takes to parse dags/drift_monitor.py with many projects, next to a one-task DAG file.

    .venv/bin/python benchmarks/dag_parse.py [--projects 200]

Writes a store.json index with that many projects into a temporary store, then parses each DAG file 3 times in
fresh interpreters (after one warm-up each) and prints the best times and their ratio. The Airflow scheduler's
dag processor re-parses DAG files every 30 s by default, so this is a recurring cost, not a start-up one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMPTY_DAG = textwrap.dedent(
    """
    from datetime import datetime
    from airflow.sdk import DAG, task
    with DAG("empty", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        @task
        def nothing():
            pass
        nothing()
    """
)
PARSE = textwrap.dedent(
    """
    import runpy, sys, time
    start = time.perf_counter()
    namespace = runpy.run_path(sys.argv[1])
    elapsed = time.perf_counter() - start
    from airflow.sdk import DAG
    print(elapsed, sum(isinstance(value, DAG) for value in namespace.values()))
    """
)


def parse(path: Path, env: dict[str, str]) -> tuple[float, int]:
    done = subprocess.run([sys.executable, "-c", PARSE, str(path)], env=env, capture_output=True, text=True, check=True)
    elapsed, dags = done.stdout.split()[-2:]
    return float(elapsed), int(dags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=200)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        home, storage = Path(directory) / "airflow", Path(directory) / "store"
        storage.mkdir()
        projects = {
            f"project-{i:03d}": {
                "status": "active", "schedule": "@hourly", "start_date": "2026-01-01", "catchup": False,
                "retrain_dag_id": None, "updated_at": "2026-01-01T00:00:00+00:00",
            }
            for i in range(arguments.projects)
        }  # fmt: skip
        (storage / "store.json").write_text(json.dumps({"version": 1, "projects": projects}))
        empty = Path(directory) / "empty_dag.py"
        empty.write_text(EMPTY_DAG)
        env = {**os.environ, "AIRFLOW_HOME": str(home), "DRIFTING_STORAGE_URL": str(storage)}
        env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        timings = {}
        for name, path in (("one-task DAG file", empty), ("drift_monitor.py", ROOT / "dags" / "drift_monitor.py")):
            parse(path, env)  # warm the file system cache
            runs = [parse(path, env) for _ in range(3)]
            timings[name] = (min(elapsed for elapsed, _ in runs), runs[0][1])
    baseline = timings["one-task DAG file"][0]
    print(f"{'file':<20} {'DAGs':>5} {'best of 3 (s)':>14} {'ratio':>6}")
    for name, (elapsed, dags) in timings.items():
        print(f"{name:<20} {dags:>5} {elapsed:>14.2f} {elapsed / baseline:>6.2f}")


if __name__ == "__main__":
    main()

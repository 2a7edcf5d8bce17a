"""Airflow adapters: DAG construction helpers and the task functions the files in dags/ call.

Imported by DAG files at parse time (dag_factory: light) and inside tasks (tasks). Needs the [airflow] extra,
checked here so that importing any adapter without Airflow names the extra instead of failing deep in an import.
"""

from drifting_etl.core.extras import require_extra

require_extra("airflow", feature="the Airflow adapters (drifting_etl.airflow)")

"""Airflow adapters: DAG construction helpers and the task functions the files in dags/ call.

Imported by DAG files at parse time (dag_factory: light) and inside tasks (tasks)."""

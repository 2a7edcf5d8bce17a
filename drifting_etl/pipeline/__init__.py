"""The one orchestration path: plan, profile and merge partitions, evaluate and load a window, publish its report
and e-mail, backfill a schedule's windows, and the steps a scheduler runs.

The CLI, the demo and the Airflow tasks all call this package; it never imports them."""

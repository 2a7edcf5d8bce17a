#!/usr/bin/env bash
# `make airflow`: Airflow 3 on 127.0.0.1 only, with this repository's dags/, the embedded storage (.drifting) and
# metrics database, the demo projects registered, and a local SMTP sink that keeps the DAGs' e-mail in
# .drifting/outbox/ (connection smtp_default). Ctrl-C stops every process it started.
#
# The components (api-server, scheduler, dag-processor, triggerer) are started one by one instead of through
# `airflow standalone`: in Airflow 3.3 the scheduler's and the triggerer's log servers bind to every interface
# (airflow/utils/serve_logs/core.py passes host="" to uvicorn; no setting changes it), so both run with
# --skip-serve-logs. Tasks run on this machine (LocalExecutor), and the api-server reads their logs from the files
# under .airflow/logs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

export AIRFLOW_HOME="$ROOT/.airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-4}
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=${AIRFLOW_PORT:-8080}
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$AIRFLOW__API__PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$AIRFLOW__API__BASE_URL/execution/"
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False  # its health server would listen on 0.0.0.0
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
export DRIFTING_STORAGE_URL=${DRIFTING_STORAGE_URL:-$ROOT/.drifting}
export SMTP_SINK_PORT=${DRIFTING_SMTP_SINK_PORT:-8025}
export OUTBOX="$DRIFTING_STORAGE_URL/outbox"
PATH="$ROOT/.venv/bin:$PATH"

if [ ! -f "$DRIFTING_STORAGE_URL/store.json" ] || ! grep -q credit-default "$DRIFTING_STORAGE_URL/store.json"; then
  echo "== no demo projects yet: running the demo first"
  drifting-etl demo
fi
mkdir -p "$AIRFLOW_HOME"

echo "== preparing the Airflow metadata database ($AIRFLOW_HOME/airflow.db) and connection smtp_default"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/migrate.log"; exit 1; }
# re-created on every start, so that it always points at this sink's port
airflow connections delete smtp_default > /dev/null 2>&1 || true
airflow connections add smtp_default --conn-type smtp --conn-host 127.0.0.1 --conn-port "$SMTP_SINK_PORT" \
  --conn-extra '{"disable_ssl": true, "disable_tls": true, "from_email": "airflow@demo.local"}' > /dev/null

# one process group for everything started here, so that stopping it stops the LocalExecutor's workers too
setsid bash -c '
  python -m drifting_etl.notify.sink --outbox "$OUTBOX" --port "$SMTP_SINK_PORT" > "$AIRFLOW_HOME/smtp-sink.log" 2>&1 &
  airflow api-server --host 127.0.0.1 --port "$AIRFLOW__API__PORT" > "$AIRFLOW_HOME/api-server.log" 2>&1 &
  airflow scheduler --skip-serve-logs > "$AIRFLOW_HOME/scheduler.log" 2>&1 &
  airflow dag-processor > "$AIRFLOW_HOME/dag-processor.log" 2>&1 &
  airflow triggerer --skip-serve-logs > "$AIRFLOW_HOME/triggerer.log" 2>&1 &
  wait
' &
GROUP=$!
stop() {
  echo; echo "== stopping Airflow and the SMTP sink (process group $GROUP)"
  kill -TERM -- "-$GROUP" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 -- "-$GROUP" 2>/dev/null || exit 0; sleep 1; done
  kill -KILL -- "-$GROUP" 2>/dev/null || true
}
trap stop INT TERM EXIT

URL="$AIRFLOW__API__BASE_URL"
echo "== starting Airflow at $URL (logs: $AIRFLOW_HOME/{api-server,scheduler,dag-processor,triggerer,smtp-sink}.log) ..."
for _ in $(seq 180); do
  curl -fs "$URL/api/v2/monitor/health" > /dev/null 2>&1 && break
  kill -0 "$GROUP" 2>/dev/null || { echo "Airflow exited; see $AIRFLOW_HOME/*.log"; exit 1; }
  sleep 1
done
curl -fs "$URL/api/v2/monitor/health" > /dev/null 2>&1 || { echo "Airflow did not come up; see $AIRFLOW_HOME/*.log"; exit 1; }
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
echo "== Airflow is up: $URL"
echo "   log in as admin, password: $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" "$PASSWORDS" 2>/dev/null || echo "see $PASSWORDS")"
echo "   DAGs: drift_monitor__<project> (one per active project; unpause one to start) and retrain__<project> (unpaused)"
echo "   e-mail from the DAGs: $OUTBOX/*.eml (SMTP sink on 127.0.0.1:$SMTP_SINK_PORT, connection smtp_default)"
echo "   backfill the demo week:  AIRFLOW_HOME=$AIRFLOW_HOME .venv/bin/airflow backfill create --dag-id drift_monitor__credit-default --from-date <first day> --to-date <last day>"
echo "   Ctrl-C stops everything."
wait "$GROUP"

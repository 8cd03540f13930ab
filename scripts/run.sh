#!/usr/bin/env bash
# `make run`: start dynalite (data kept in var/dynalite), create tables, serve with gunicorn.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${DYNALITE_PORT:-8001}"
export DYNAMODB_ENDPOINT_URL="${DYNAMODB_ENDPOINT_URL:-http://127.0.0.1:${port}}"
mkdir -p var/dynalite

dynalite_pid=""
cleanup() {
  trap - INT TERM EXIT
  [[ -n "$dynalite_pid" ]] && kill "$dynalite_pid" 2>/dev/null && wait "$dynalite_pid" 2>/dev/null
  echo "Stopped."
}
trap cleanup INT TERM EXIT

if .venv/bin/python scripts/wait_port.py 127.0.0.1 "$port" --timeout 0.2 2>/dev/null; then
  echo "Port $port is already in use: stop the other dynalite (or set DYNALITE_PORT) and retry." >&2
  exit 1
fi
node_modules/.bin/dynalite --host 127.0.0.1 --port "$port" --path var/dynalite --createTableMs 50 &
dynalite_pid=$!
.venv/bin/python scripts/wait_port.py 127.0.0.1 "$port" --timeout 20
.venv/bin/python manage.py ensure_tables
echo "Serving on http://127.0.0.1:8000 (Ctrl-C to stop)"
.venv/bin/gunicorn --config gunicorn.conf.py &
gunicorn_pid=$!
wait "$gunicorn_pid"

#!/usr/bin/env bash
# `make test`: the whole suite. The suite starts its own dynalite (and gunicorn) on free ports.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure for this project." >&2
  exit 1
fi
exit $status

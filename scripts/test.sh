#!/usr/bin/env bash
# Installs everything (scripts/install.sh --test), then runs the linters and the whole test suite.
# Tests that need RabbitMQ, PostgreSQL or slapd start private servers from their pytest fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --test
.venv/bin/ruff check overcast tests bench
.venv/bin/mypy
# Every prerequisite was just installed: a test skipped for a missing one is a failure here.
export OVERCAST_STRICT_PREREQUISITES=1
# Line coverage of overcast/ as the tests run it in-process (the API, services and drivers in threads);
# the processes the all-in-one and multi-process tests start are not measured.
# The tests run on parallel workers (pytest-xdist; much of their time is waiting on servers, guests and
# subprocesses, so more workers than cores): tests/conftest.py's work_unit says what one worker runs whole
# (all of tests/integration/, serially; one functional or security module, sharing its cloud). pytest-cov
# combines the workers' coverage.
workers=${OVERCAST_TEST_WORKERS:-3}
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 -n "$workers" --dist loadscope \
    --cov --cov-report=term:skip-covered "$@" || status=$?
echo "Total line coverage of overcast/: $(.venv/bin/coverage report --format=total)%"
exit "$status"

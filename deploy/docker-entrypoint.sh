#!/usr/bin/env bash
# Start one part of the K5 image portal. Used as the container image's entrypoint and by the
# systemd units (deploy/systemd/), so both start it the same way. docs/operations.md explains.
#
#   docker-entrypoint.sh web            # gunicorn on 0.0.0.0:$PORT (migrate first: MIGRATE_ON_START=true)
#   docker-entrypoint.sh worker         # a django-q2 cluster: the job engine
#   docker-entrypoint.sh migrate        # apply database migrations (once per release)
#   docker-entrypoint.sh collectstatic  # collect static files into STATIC_ROOT
#   docker-entrypoint.sh check          # Django's checks, and fail if migrations are not applied
#   docker-entrypoint.sh manage ARGS    # any manage.py command (prune, k5project, ...)
#   docker-entrypoint.sh CMD ARGS       # anything else is run as given
#
# Environment: PORT (8000; or WEB_BIND), WEB_WORKERS and WEB_THREADS (portal/gunicorn.py),
# DB_WAIT_SECONDS (60: how long web, worker and migrate wait for the database),
# MIGRATE_ON_START (false),
# ENTRYPOINT_DRY_RUN (true: print the final command instead of running it; for tests), and
# every portal variable of README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}

say() { echo "docker-entrypoint: $*" >&2; }

run() {
  # The last step replaces this shell, so that signals reach gunicorn or the cluster directly.
  if [ "${ENTRYPOINT_DRY_RUN:-false}" = "true" ]; then
    echo "$*"
    exit 0
  fi
  exec "$@"
}

wait_for_database() {
  local deadline=$((SECONDS + ${DB_WAIT_SECONDS:-60}))
  until "$PYTHON" manage.py shell -c "from django.db import connection; connection.ensure_connection()" \
    >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the database did not answer within ${DB_WAIT_SECONDS:-60} s; last error:"
      "$PYTHON" manage.py shell -c "from django.db import connection; connection.ensure_connection()" || true
      exit 1
    fi
    sleep 1
  done
}

prepare_metrics_dir() {
  # prometheus-client's multiprocess mode needs the directory to exist before the first metric.
  if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  fi
}

command=${1:-web}
[ "$#" -gt 0 ] && shift

case "$command" in
  web)
    wait_for_database
    if [ "${MIGRATE_ON_START:-false}" = "true" ]; then
      say "migrating the database"
      "$PYTHON" manage.py migrate --noinput
    fi
    prepare_metrics_dir
    # portal/gunicorn.py reads WEB_BIND, WEB_WORKERS, WEB_THREADS. No gunicorn access log by
    # default: the portal logs one line per request itself, with its request id (and in JSON
    # when LOG_FORMAT=json); WEB_ACCESS_LOG=- brings gunicorn's back.
    export WEB_BIND=${WEB_BIND:-0.0.0.0:${PORT:-8000}}
    export WEB_ACCESS_LOG=${WEB_ACCESS_LOG:-}
    run gunicorn -c portal/gunicorn.py portal.wsgi "$@"
    ;;
  worker)
    wait_for_database
    prepare_metrics_dir
    run "$PYTHON" manage.py qcluster "$@"
    ;;
  migrate)
    wait_for_database
    run "$PYTHON" manage.py migrate --noinput "$@"
    ;;
  collectstatic)
    run "$PYTHON" manage.py collectstatic --noinput "$@"
    ;;
  check)
    "$PYTHON" manage.py check "$@"
    wait_for_database
    if ! "$PYTHON" manage.py migrate --check >/dev/null 2>&1; then
      say "the database lacks migrations of this release: run 'docker-entrypoint.sh migrate'"
      "$PYTHON" manage.py showmigrations --plan | grep -F '[ ]' >&2 || true
      exit 1
    fi
    say "checks passed; the database is migrated"
    ;;
  manage)
    run "$PYTHON" manage.py "$@"
    ;;
  *)
    run "$command" "$@"
    ;;
esac

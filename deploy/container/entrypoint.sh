#!/bin/sh
# The SOGOMS image's entrypoint (docs/operations.md, "Containers and Kubernetes"): one image
# for every process, chosen by the first argument. This file is the one place that says
# how each process is started in a container; compose.yaml and the Kubernetes manifests
# only name the process.
#
#   http        the HTTP API (WSGI workers), on $SOGOMS_HTTP_BIND (0.0.0.0:8000)
#   socket      the WebSockets (ASGI), on $SOGOMS_SOCKET_BIND (0.0.0.0:8001)
#   worker      a Celery worker ($SOGOMS_WORKER_CONCURRENCY processes, 2)
#   beat        Celery beat: exactly one per installation
#   migrate     `sogoms check`, then `sogoms migrate` (before a release's processes start)
#   manage ...  any `manage.py` command, e.g. `manage sogoms users list prokov`
#   configmap   prints $SOGOMS_CONFIG_DIR as the Kubernetes ConfigMap sogoms-config
#   healthcheck the image's HEALTHCHECK: asks the process this container runs
#
# SOGOMS_ENTRYPOINT_DRY_RUN=1 prints the command instead of running it (tests/deploy).
set -eu

# This script's own directory: configmap.py is beside it (in the image and in a checkout).
here="$(dirname "$(readlink -f "$0")")"
process="${1:-http}"
[ "$#" -gt 0 ] && shift

# The process type, for `healthcheck` (run later in the same container).
state_file="${TMPDIR:-/tmp}/sogoms-process"

# A Kubernetes ConfigMap cannot hold directories: its keys name the config files with
# `__` for `/` (routes__prokov.yaml). Lay them out where SOGOMS reads its config.
if [ -n "${SOGOMS_CONFIG_MAP_DIR:-}" ]; then
    for source in "$SOGOMS_CONFIG_MAP_DIR"/*; do
        [ -f "$source" ] || continue
        relative="$(basename "$source" | sed 's,__,/,g')"
        mkdir -p "$(dirname "$SOGOMS_CONFIG_DIR/$relative")"
        cp "$source" "$SOGOMS_CONFIG_DIR/$relative"
    done
fi

run() {
    if [ "${SOGOMS_ENTRYPOINT_DRY_RUN:-0}" = "1" ]; then
        echo "$@"
        return 0
    fi
    case "$process" in
        http | socket | worker | beat) echo "$process" >"$state_file" 2>/dev/null || true ;;
    esac
    exec "$@"
}

# Each kind of server counts its metrics in a directory of its own (docs/operations.md,
# Metrics), emptied at start: files of processes that are gone are not wanted.
metrics_dir() {
    if [ -n "${SOGOMS_METRICS_DIR:-}" ] && [ "${SOGOMS_ENTRYPOINT_DRY_RUN:-0}" != "1" ]; then
        rm -rf "${SOGOMS_METRICS_DIR:?}/$1"
        mkdir -p "$SOGOMS_METRICS_DIR/$1"
        export PROMETHEUS_MULTIPROC_DIR="$SOGOMS_METRICS_DIR/$1"
    fi
}

port_of() {  # host:port -> port
    echo "${1##*:}"
}

# sogoms_site.serving.default_workers: 4 on a database server, 2 on the embedded SQLite
default_workers() {
    if [ -n "${DATABASE_URL:-}${DATABASE_URL_FILE:-}" ]; then echo 4; else echo 2; fi
}

http_bind="${SOGOMS_HTTP_BIND:-0.0.0.0:8000}"
socket_bind="${SOGOMS_SOCKET_BIND:-0.0.0.0:8001}"

case "$process" in
    http)
        metrics_dir http
        # sogoms_site/serving.py's command (tests/deploy holds this line to it); an access log
        export GRANIAN_LOG_ACCESS_ENABLED="${GRANIAN_LOG_ACCESS_ENABLED:-1}"
        run granian --interface wsgi --host "${http_bind%:*}" --port "$(port_of "$http_bind")" \
            --workers "${SOGOMS_HTTP_WORKERS:-$(default_workers)}" --blocking-threads 1 --respawn-failed-workers \
            --workers-kill-timeout 30 --respawn-interval 15 sogoms_site.wsgi:application "$@"
        ;;
    socket)
        metrics_dir socket
        # uvicorn, closing push sockets with 1001 on SIGTERM (docs/operations.md, Graceful shutdown)
        run python -m sogoms_site.socketserver --host "${socket_bind%:*}" --port "$(port_of "$socket_bind")" \
            --timeout-graceful-shutdown 30 "$@"
        ;;
    worker)
        # SIGTERM as Celery's soft shutdown: tasks finish or go back to the queue
        export REMAP_SIGTERM=SIGQUIT
        run celery -A sogoms_site worker --pool prefork --concurrency "${SOGOMS_WORKER_CONCURRENCY:-2}" -l info "$@"
        ;;
    beat)
        # The schedule file is per container; runs are exactly-once by their database rows.
        run celery -A sogoms_site beat -l info "$@"
        ;;
    migrate)
        if [ "${SOGOMS_ENTRYPOINT_DRY_RUN:-0}" = "1" ]; then
            echo python manage.py sogoms check
        else
            python manage.py sogoms check
        fi
        run python manage.py sogoms migrate "$@"
        ;;
    manage)
        run python manage.py "$@"
        ;;
    configmap)
        run python "$here/configmap.py" "${SOGOMS_CONFIG_DIR:-config}"
        ;;
    healthcheck)
        # No state file: a one-off command (migrate, manage), checked by its exit status.
        running="$(cat "$state_file" 2>/dev/null || echo none)"
        case "$running" in
            http) url="http://127.0.0.1:$(port_of "$http_bind")/health" ;;
            socket) url="http://127.0.0.1:$(port_of "$socket_bind")/health" ;;
            worker) run celery -A sogoms_site inspect ping --timeout 10 -d "celery@$(hostname)" ;;
            *) exit 0 ;;  # beat: the process itself is the check
        esac
        run python -c 'import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=5).status != 200)' "$url"
        ;;
    *)
        echo "unknown process '$process': use http, socket, worker, beat, migrate, manage, configmap or healthcheck" >&2
        exit 64
        ;;
esac

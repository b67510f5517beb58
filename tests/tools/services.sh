#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Private dockerd for the tests marked "daemon" (never the host's daemon).
#
#   tests/tools/services.sh start    start it unless something already answers on the socket
#   tests/tools/services.sh stop     stop the dockerd this script started
#   tests/tools/services.sh status   exit 0 if the socket answers
#
# Socket: ${CONTAINER_AUDIT_TEST_DOCKER_SOCK:-/run/container-audit-test/docker.sock}.
# State (data root, exec root, pidfile, log, daemon.json): ${CONTAINER_AUDIT_TEST_STATE:-/var/lib/container-audit-test}.
# Needs root and dockerd (Debian package docker.io); no systemd.
set -eu

SOCK=${CONTAINER_AUDIT_TEST_DOCKER_SOCK:-/run/container-audit-test/docker.sock}
STATE=${CONTAINER_AUDIT_TEST_STATE:-/var/lib/container-audit-test}
TIMEOUT=${CONTAINER_AUDIT_TEST_DOCKER_TIMEOUT:-60}
DATA_ROOT=$STATE/data
# containerd puts sockets under the exec root: keep that path short
EXEC_ROOT=$STATE/exec
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log
CONFIG=$STATE/daemon.json

if [ -x /usr/bin/docker ]; then
    DOCKER=/usr/bin/docker
else
    DOCKER=$(command -v docker || true)
fi

die() {
    echo "services.sh: $*" >&2
    exit 1
}

answers() {
    [ -S "$SOCK" ] && [ -n "$DOCKER" ] && "$DOCKER" -H "unix://$SOCK" version >/dev/null 2>&1
}

# pid from the pidfile, only if that process is a dockerd
our_pid() {
    [ -f "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
    echo "$pid"
}

pause() {
    sleep 0.2 2>/dev/null || sleep 1
}

start() {
    if answers; then
        echo "services.sh: dockerd already answers on $SOCK"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "starting dockerd needs root"
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found (apt-get install docker.io)"
    [ -n "$DOCKER" ] || die "docker CLI not found (apt-get install docker.io)"
    mkdir -p "$DATA_ROOT" "$EXEC_ROOT" "$(dirname "$SOCK")"
    if pid=$(our_pid); then
        echo "services.sh: dockerd $pid is running but not answering yet; waiting"
    else
        # the trust key would otherwise go to /etc/docker/key.json
        printf '{"deprecated-key-path": "%s/key.json"}\n' "$STATE" >"$CONFIG"
        rm -f "$SOCK"
        if command -v setsid >/dev/null 2>&1; then
            detach=setsid
        else
            detach=
        fi
        # shellcheck disable=SC2086  # $detach is empty or one word
        $detach dockerd \
            --config-file "$CONFIG" \
            --data-root "$DATA_ROOT" \
            --exec-root "$EXEC_ROOT" \
            --pidfile "$PIDFILE" \
            --host "unix://$SOCK" \
            --storage-driver vfs \
            --iptables=false --ip6tables=false --bridge=none \
            </dev/null >>"$LOG" 2>&1 &
        pid=$!
    fi
    waited=0
    while ! answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "services.sh: dockerd exited before answering on $SOCK; last lines of $LOG:" >&2
            tail -n 20 "$LOG" >&2 || true
            exit 1
        fi
        if [ "$waited" -ge $((TIMEOUT * 5)) ]; then
            echo "services.sh: dockerd did not answer on $SOCK within ${TIMEOUT}s; last lines of $LOG:" >&2
            tail -n 20 "$LOG" >&2 || true
            exit 1
        fi
        pause
        waited=$((waited + 1))
    done
    echo "services.sh: dockerd answers on $SOCK (data root $DATA_ROOT, log $LOG)"
}

stop() {
    if ! pid=$(our_pid); then
        if answers; then
            die "something answers on $SOCK but $PIDFILE names no dockerd of ours; not stopping it"
        fi
        echo "services.sh: dockerd not running"
        rm -f "$PIDFILE"
        return 0
    fi
    kill -TERM "$pid"
    waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge $((TIMEOUT * 5)) ]; then
            echo "services.sh: dockerd $pid ignored SIGTERM for ${TIMEOUT}s; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        pause
        waited=$((waited + 1))
    done
    rm -f "$PIDFILE"
    echo "services.sh: dockerd $pid stopped"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status)
        if answers; then
            echo "services.sh: dockerd answers on $SOCK"
        else
            echo "services.sh: nothing answers on $SOCK"
            exit 3
        fi
        ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac

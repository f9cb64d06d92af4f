# shellcheck shell=bash
#  scripts/lib.sh: what oms-up, oms-down and oms-ctl share. Where the
#  programs, logs and pid files of a local cluster are, and the one way to
#  start a process, to tell that it answers, and to stop it.
#
#  Source it, then call oms_init once. Environment:
#    OMS_BIN_DIR    where the programs are (else OMS_BUILD_DIR, else <repo>/build)
#    OMS_HOME       the cluster's data, logs (log/<name>.log) and pid files
#                   (run/<name>.pid); else `home` of OMS_CONFIG, else ./var
#    OMS_CONFIG     a ZPL configuration file, passed to every process
#    OMS_BROKER_COUNT  how many brokers (broker/count); else what
#                   `oms-up --brokers N` recorded in $OMS_HOME/brokers, else
#                   broker/count of OMS_CONFIG (see oms_config_broker_count),
#                   else 1. With one the broker is called `broker`, with
#                   several `broker.0`, `broker.1`...

# shellcheck disable=SC2034  # used by the scripts that source this file
OMS_NAMES=(broker order inventory payment notification) #  oms_init sets the brokers'
OMS_BROKERS=(broker)
OMS_SERVICES=(order inventory payment notification)
OMS_BROKERS_MAX=8
OMS_START_TIMEOUT=${OMS_START_TIMEOUT:-15}    #  seconds for a started process to answer
OMS_STOP_TIMEOUT=10     #  seconds for a signalled process to exit

oms_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
oms_me=$(basename "$0")

oms_err () {
    printf '%s: %s\n' "$oms_me" "$*" >&2
}

oms_now_ms () {
    local us=${EPOCHREALTIME//[.,]/}
    echo $((us / 1000))
}

#  Prints the `home` key of the configuration file, if it has one.
oms_config_home () {
    local line
    [[ -n ${OMS_CONFIG:-} && -r $OMS_CONFIG ]] || return 1
    while IFS= read -r line; do
        if [[ $line =~ ^home[[:space:]]*=[[:space:]]*\"([^\"]*)\" ]] ||
            [[ $line =~ ^home[[:space:]]*=[[:space:]]*([^[:space:]#]+) ]]; then
            printf '%s\n' "${BASH_REMATCH[1]}"
            return 0
        fi
    done <"$OMS_CONFIG"
    return 1
}

oms_init () {
    if [[ -n ${OMS_BIN_DIR:-} ]]; then
        OMS_BIN=$OMS_BIN_DIR
    elif [[ -n ${OMS_BUILD_DIR:-} ]]; then
        OMS_BIN=$OMS_BUILD_DIR
    else
        OMS_BIN=$oms_root/build
    fi
    oms_config_args=()
    if [[ -n ${OMS_CONFIG:-} ]]; then
        if [[ ! -r $OMS_CONFIG ]]; then
            oms_err "cannot read OMS_CONFIG=$OMS_CONFIG"
            exit 1
        fi
        OMS_CONFIG=$(realpath "$OMS_CONFIG")
        export OMS_CONFIG
        oms_config_args=(--config "$OMS_CONFIG")
    fi
    if [[ -z ${OMS_HOME:-} ]]; then
        OMS_HOME=$(oms_config_home) || OMS_HOME=./var
    fi
    OMS_HOME=$(realpath -m "$OMS_HOME")
    export OMS_HOME
    declare -gA oms_log_mark=()
    oms_init_brokers
}

#  Prints broker/count of the configuration file, if it sets it: `count`
#  indented under a top-level `broker` section, or `broker/count = N`.
oms_config_broker_count () {
    local line section=
    [[ -n ${OMS_CONFIG:-} && -r $OMS_CONFIG ]] || return 1
    while IFS= read -r line; do
        line=${line%%#*}
        if [[ $line =~ ^([A-Za-z0-9_/.-]+)[[:space:]]*$ ]]; then
            section=${BASH_REMATCH[1]}
        elif [[ $line =~ ^broker/count[[:space:]]*=[[:space:]]*\"?([0-9]+)\"? ]] ||
            [[ $section == broker &&
                $line =~ ^[[:space:]]+count[[:space:]]*=[[:space:]]*\"?([0-9]+)\"? ]]; then
            printf '%s\n' "${BASH_REMATCH[1]}"
            return 0
        elif [[ $line =~ ^[^[:space:]] ]]; then
            section=
        fi
    done <"$OMS_CONFIG"
    return 1
}

#  The record `oms-up --brokers N` leaves, so later scripts know the shape.
oms_brokers_file () {
    echo "$OMS_HOME/brokers"
}

#  Sets OMS_BROKERS (and OMS_NAMES) from the broker count; see the top.
oms_init_brokers () {
    local count i
    if [[ -z ${OMS_BROKER_COUNT:-} && -r $(oms_brokers_file) ]]; then
        OMS_BROKER_COUNT=$(<"$(oms_brokers_file)")
        export OMS_BROKER_COUNT
    fi
    if [[ -n ${OMS_BROKER_COUNT:-} ]]; then
        count=$OMS_BROKER_COUNT
    else
        count=$(oms_config_broker_count) || count=1
    fi
    if ! [[ $count =~ ^[1-9][0-9]*$ ]] || ((count > OMS_BROKERS_MAX)); then
        oms_err "the broker count must be from 1 to $OMS_BROKERS_MAX, not '$count'"
        exit 1
    fi
    OMS_BROKERS=()
    if ((count == 1)); then
        OMS_BROKERS=(broker)
    else
        for ((i = 0; i < count; i++)); do
            OMS_BROKERS+=("broker.$i")
        done
    fi
    OMS_NAMES=("${OMS_BROKERS[@]}" "${OMS_SERVICES[@]}")
}

#  Whether NAME is a broker's (broker, or broker.I).
oms_is_broker () {
    [[ $1 == broker || $1 =~ ^broker\.[0-9]+$ ]]
}

oms_is_name () {
    local name
    for name in "${OMS_NAMES[@]}"; do
        [[ $1 == "$name" ]] && return 0
    done
    return 1
}

oms_program () {
    case $1 in
        broker | broker.*) echo "$OMS_BIN/broker/oms-broker" ;;
        cli) echo "$OMS_BIN/cli/oms" ;;
        *) echo "$OMS_BIN/services/$1/oms-$1" ;;
    esac
}

oms_logfile () {
    echo "$OMS_HOME/log/$1.log"
}

oms_pidfile () {
    echo "$OMS_HOME/run/$1.pid"
}

#  The oms CLI on this cluster's configuration.
oms_cli () {
    "$(oms_program cli)" "$@" "${oms_config_args[@]}"
}

#  Whether PID is a live (not zombie) process running NAME's program; a pid
#  file can outlive its process and the pid be reused.
oms_pid_alive () {
    local pid=$1 name=$2 cmdline
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ -r /proc/$pid/cmdline ]] || return 0
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$(basename "$(oms_program "$name")")"* ]]
}

#  Whether PID, a child just started by oms_start, is alive (not a zombie).
#  Its command line is not looked at: until the exec of setsid and nohup has
#  run, it is still this shell's.
oms_child_alive () {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

#  Writes PID to PIDFILE, atomically, or returns 1 leaving no file: a pid
#  file that exists always names the process (a full disk can leave a
#  short write behind).
oms_write_pidfile () {
    local pidfile=$1 pid=$2 tmp="$1.tmp" written
    if printf '%s\n' "$pid" 2>/dev/null >"$tmp" && written=$(head -c 32 "$tmp" 2>/dev/null) &&
        [[ $written == "$pid" ]] && mv -f "$tmp" "$pidfile"; then
        return 0
    fi
    rm -f "$tmp"
    return 1
}

#  Prints the pid of NAME when its pid file names a live process.
oms_running () {
    local pidfile pid
    pidfile=$(oms_pidfile "$1")
    [[ -r $pidfile ]] || return 1
    pid=$(<"$pidfile")
    oms_pid_alive "$pid" "$1" || return 1
    echo "$pid"
}

#  Checks that the programs for NAMES (and the CLI, which probes them) exist.
oms_check_programs () {
    local name prog missing=0
    for name in "$@" cli; do
        prog=$(oms_program "$name")
        if [[ ! -x $prog ]]; then
            oms_err "missing program $prog"
            missing=1
        fi
    done
    if ((missing)); then
        oms_err "build first (meson setup build && ninja -C build), or set OMS_BIN_DIR"
        return 1
    fi
}

#  Makes NAME's store if it has none (oms-NAME --init), logging to its log.
oms_make_store () {
    local name=$1 log
    log=$(oms_logfile "$name")
    mkdir -p "$OMS_HOME/log"
    if ! "$(oms_program "$name")" "${oms_config_args[@]}" --init >>"$log" 2>&1; then
        oms_start_failed "$name" "could not make its store"
        return 1
    fi
    tail -n 1 "$log"
}

#  A home is new until a cluster first started in it; the marker says it
#  did. Only a new home gets new stores from oms-up: afterwards a missing
#  store is a loss, and its service refuses to start (oms-ctl init makes
#  one on purpose). A home written before the marker existed has stores.
oms_marker () {
    echo "$OMS_HOME/cluster"
}

oms_home_is_new () {
    local service
    [[ -e $(oms_marker) ]] && return 1
    for service in "${OMS_SERVICES[@]}"; do
        [[ -s $OMS_HOME/$service/data.mdb ]] && return 1
    done
    return 0
}

#  Starts NAME in the background, detached, appending to its log.
#  Returns 2 (and says so) when its pid file names a live process.
oms_start () {
    local name=$1 prog log pidfile pid
    if pid=$(oms_running "$name"); then
        oms_err "$name is already running (pid $pid); not starting it"
        return 2
    fi
    prog=$(oms_program "$name")
    log=$(oms_logfile "$name")
    pidfile=$(oms_pidfile "$name")
    mkdir -p "$OMS_HOME/log" "$OMS_HOME/run"
    : >>"$log"
    oms_log_mark[$name]=$(stat -c %s "$log")
    local args=("${oms_config_args[@]}")
    [[ $name != broker.* ]] || args+=(--index "${name#broker.}")
    setsid nohup "$prog" "${args[@]}" </dev/null >>"$log" 2>&1 &
    pid=$!
    if ! oms_write_pidfile "$pidfile" "$pid"; then
        kill -s KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        oms_err "cannot write pid file $pidfile (disk full?); stopped $name (pid $pid)"
        return 1
    fi
}

#  Whether NAME answers: a broker once it logged its start-up line (after
#  the mark taken when it was started), a service once `oms status` succeeds.
oms_answers () {
    local name=$1 log
    if oms_is_broker "$name"; then
        log=$(oms_logfile "$name")
        [[ $(tail -c +$((${oms_log_mark[$name]:-0} + 1)) "$log") == *'oms-broker: frontend='* ]]
    else
        OMS_CLI_TIMEOUT_MS=${OMS_CLI_TIMEOUT_MS:-1000} \
            timeout 10 "$(oms_program cli)" status "$name" "${oms_config_args[@]}" >/dev/null 2>&1
    fi
}

#  Prints why NAME failed to start and the tail of its log.
oms_start_failed () {
    local name=$1 why=$2 log
    log=$(oms_logfile "$name")
    oms_err "$name $why; last lines of $log:"
    tail -n 20 "$log" | sed 's/^/    /' >&2
}

#  Waits until every NAME started by oms_start answers, within
#  OMS_START_TIMEOUT seconds; prints one line for each. A process that exits
#  first loses its pid file.
oms_wait_ready () {
    local deadline name pid
    deadline=$(($(oms_now_ms) + OMS_START_TIMEOUT * 1000))
    for name; do
        pid=$(<"$(oms_pidfile "$name")")
        until oms_answers "$name"; do
            if ! oms_child_alive "$pid"; then
                rm -f "$(oms_pidfile "$name")"
                oms_start_failed "$name" "exited during start-up"
                return 1
            fi
            if (($(oms_now_ms) >= deadline)); then
                oms_start_failed "$name" "did not answer within ${OMS_START_TIMEOUT}s"
                return 1
            fi
            sleep 0.05
        done
        echo "$name started (pid $pid, log $(oms_logfile "$name"))"
    done
}

#  Sends SIGNAL to every running NAME and waits for all to exit; what is
#  still there after OMS_STOP_TIMEOUT seconds gets SIGKILL. Removes the pid
#  files.
oms_stop () {
    local sig=$1 name pid deadline
    shift
    local -A pids=()
    for name; do
        if pid=$(oms_running "$name"); then
            kill -s "$sig" "$pid" 2>/dev/null || true
            pids[$name]=$pid
        else
            rm -f "$(oms_pidfile "$name")"
        fi
    done
    deadline=$(($(oms_now_ms) + OMS_STOP_TIMEOUT * 1000))
    while ((${#pids[@]})); do
        for name in "${!pids[@]}"; do
            if ! oms_pid_alive "${pids[$name]}" "$name"; then
                rm -f "$(oms_pidfile "$name")"
                unset "pids[$name]"
            fi
        done
        ((${#pids[@]})) || break
        if (($(oms_now_ms) >= deadline)); then
            if [[ $sig == KILL ]]; then
                oms_err "could not stop ${!pids[*]}"
                return 1
            fi
            for name in "${!pids[@]}"; do
                oms_err "$name (pid ${pids[$name]}) did not exit on SIG$sig; killing it"
                kill -s KILL "${pids[$name]}" 2>/dev/null || true
            done
            sig=KILL
            deadline=$(($(oms_now_ms) + OMS_STOP_TIMEOUT * 1000))
        fi
        sleep 0.05
    done
}

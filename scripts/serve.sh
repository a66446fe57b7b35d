#!/bin/sh
# Start lighttpd + the tuturu FastCGI program in the foreground, with coturn
# (the TURN relay) beside them; Ctrl-C stops all three.
#
# Everything generated (config, secret, database, sockets, logs) goes under one
# state directory, written by scripts/configure: its settings (PORT, BIND,
# TUTURU_*, FORCE_RELAY, TURN, TURN_*, HTTPS_PORT...) are listed there.
set -eu

me=serve
. "$(dirname "$0")/configure"
command -v lighttpd >/dev/null || die "lighttpd is not installed (run scripts/setup)"

# wait_up NAME PID LOG COMMAND...: until COMMAND succeeds (at most 15 s);
# stops with LOG's end if NAME (PID) ended first (a bad setting, a port).
wait_up() {
    name=$1 child=$2 log=$3
    shift 3
    tries=0
    until "$@"; do
        alive "$child" || die "$name stopped at start: $(tail -n 5 "$log" 2>/dev/null)"
        tries=$((tries + 1))
        [ $tries -le 150 ] || die "$name did not listen within 15 s (see $log)"
        sleep 0.1
    done
}

# coturn: setpriv makes the kernel send it SIGTERM when its parent dies; its
# parent is this process, which becomes lighttpd below (exec keeps the pid),
# so however lighttpd ends (Ctrl-C, SIGTERM, SIGKILL) coturn ends.
start_coturn() {
    command -v turnserver >/dev/null || die "coturn is not installed (run scripts/setup, or TURN=0)"
    # shellcheck disable=SC2086 # a list of ports
    if taken=$(coturn_port_taken "$turn_port" $coturn_tcp); then
        die "${taken#* } port ${taken% *} is taken (a system coturn? systemctl disable --now coturn); set TURN_PORT/TURN_TLS_PORT, or TURN=0"
    fi
    command -v setpriv >/dev/null || die "setpriv (util-linux) is missing"
    setpriv --pdeathsig TERM turnserver -c "$state/turnserver.conf" \
        </dev/null >>"$state/log/turnserver-stderr.log" 2>&1 &
    coturn=$!
    # Up when its listeners are; a bad setting ends it before.
    # shellcheck disable=SC2086 # a list of ports
    wait_up coturn $coturn "$state/log/turnserver.log" coturn_listens "$turn_port" $coturn_tcp
    echo "tuturu: TURN relay on $turn_host:$turn_port (TLS $turns_port), log in $state/log/turnserver.log"
}
[ "$turn" = 0 ] || start_coturn

# The one-port router (ONE_PORT=1), a child with the same parent-death signal.
router_listens() { port_used "$https_port" tcp && port_used "$turn_port" tcp; }
start_router() {
    command -v haproxy >/dev/null || die "haproxy is not installed (run scripts/setup)"
    haproxy -c -q -f "$state/haproxy.cfg" >>"$state/log/haproxy.log" 2>&1 ||
        die "haproxy refused $state/haproxy.cfg: $(tail -n 5 "$state/log/haproxy.log")"
    setpriv --pdeathsig TERM haproxy -db -f "$state/haproxy.cfg" \
        </dev/null >>"$state/log/haproxy.log" 2>&1 &
    router=$!
    wait_up haproxy $router "$state/log/haproxy.log" router_listens
    echo "tuturu: page, API and TURN over TLS on $bind:$https_port (HAProxy; log in $state/log/haproxy.log)"
}
[ "$one_port" = 0 ] || start_router

echo "tuturu: http://$bind:$port/  (state in $state; Ctrl-C stops)"
exec lighttpd -D -f "$state/lighttpd.conf"

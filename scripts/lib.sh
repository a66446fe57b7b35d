# Shell helpers shared by configure, serve.sh, install.sh and the installed
# control script (tuturu). Sourced, never run; the sourcing script sets $me.

die() { echo "${me:-tuturu}: $*" >&2; exit 1; }

# put FILE [MODE]: stdin becomes FILE, rewritten only when the content
# changes, so a second install leaves files (and their mtimes) alone.
put() {
    cat > "$1.tmp" || { rm -f "$1.tmp"; die "cannot write $1"; }
    [ -z "${2:-}" ] || chmod "$2" "$1.tmp"
    if [ -f "$1" ] && cmp -s "$1.tmp" "$1"; then
        rm -f "$1.tmp"
        [ -z "${2:-}" ] || chmod "$2" "$1"
    else
        mv "$1.tmp" "$1"
    fi
}

# port_used PORT tcp|udp: something listens (tcp) or is bound (udp) on PORT.
port_used() {
    cat "/proc/net/$2" "/proc/net/${2}6" 2>/dev/null | awk -v p="$(printf ':%04X' "$1")" \
        -v st="$([ "$2" = tcp ] && echo 0A || echo 07)" '$2 ~ p "$" && $4 == st { f = 1 } END { exit !f }'
}

# coturn_listens PORT TLS_PORT: coturn's three listeners are all up.
coturn_listens() { port_used "$1" udp && port_used "$1" tcp && port_used "$2" tcp; }

# coturn_port_taken PORT TLS_PORT: prints "PORT proto" of the first of them
# something already holds. coturn retries a busy port for ever (and shares
# it with another coturn through SO_REUSEPORT), so callers refuse instead.
coturn_port_taken() {
    for used in "$1 udp" "$1 tcp" "$2 tcp"; do
        ! port_used ${used% *} ${used#* } || { echo "$used"; return 0; }
    done
    return 1
}

# alive PID: the process exists and is not a zombie.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

# running PIDFILE DIR: the process PIDFILE names runs, and its command line
# names DIR (a pid file that survived a reboot may name another program).
running() {
    [ -s "$1" ] && pid=$(cat "$1") && alive "$pid" &&
        { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$2/"
}

# number NAME VALUE: VALUE is a decimal number, or stop naming NAME.
number() { case $2 in ''|*[!0-9]*) die "$1 must be a number, got '$2'";; esac; }

# Shell helpers shared by configure, serve.sh, install.sh and the installed
# control script (tuturu). Sourced, never run; the sourcing script sets $me.

die() { echo "${me:-tuturu}: $*" >&2; exit 1; }

# put FILE [MODE [GROUP]]: stdin becomes FILE (mode MODE, default 644; group
# GROUP, when given), rewritten only when its content, mode or owner change,
# so a second install leaves files (and their mtimes) alone. The new content
# goes to a mktemp file beside FILE that then replaces FILE by rename: a
# symbolic link or hard link at FILE, or at any other name in its directory,
# is replaced, never followed. Stops (die) when FILE cannot be written.
put() {
    tmp=$(mktemp "$(dirname "$1")/.put.XXXXXX") || die "cannot write in $(dirname "$1")"
    if ! cat > "$tmp" || ! chmod "${2:-644}" "$tmp" || { [ -n "${3:-}" ] && ! chgrp "$3" "$tmp"; }; then
        rm -f "$tmp"
        die "cannot write $1"
    fi
    if [ -f "$1" ] && [ ! -L "$1" ] && cmp -s "$tmp" "$1" &&
        [ "$(stat -c '%u %g %a %h' "$1")" = "$(stat -c '%u %g %a %h' "$tmp")" ]; then
        rm -f "$tmp"
    else
        mv -fT "$tmp" "$1" || { rm -f "$tmp"; die "cannot replace $1"; }
    fi
}

# own_dir DIR OWNER MODE: DIR is a directory, not a link (a link or a file
# at DIR, which a service user could have put there, is removed first),
# owned by OWNER (user:group; "" leaves the owner) with MODE. Returns 1,
# saying why on stderr, when it cannot.
own_dir() {
    if [ -L "$1" ] || { [ -e "$1" ] && [ ! -d "$1" ]; }; then rm -f "$1" || return 1; fi
    mkdir -p "$1" || return 1
    [ -z "$2" ] || chown -h "$2" "$1" || return 1
    chmod "$3" "$1"
}

# plain NAME VALUE: VALUE may go into a configuration file (lighttpd's
# quoted strings, coturn's and tuturu-api's name=value lines): no control
# character (a newline would start a new directive), no double quote or
# backslash (they would end or escape a quoted string). Else stop naming NAME.
plain() {
    case $2 in
        *[[:cntrl:]]*|*\"*|*\\*) die "$1 must not contain control characters (newlines), quotes or backslashes" ;;
    esac
}

# subst TEMPLATE NAME=VALUE...: prints TEMPLATE with every @NAME@ replaced by
# its VALUE. The values are data: awk reads them from its environment and
# splices them in with index/substr (no sed, no regular expression, no & or
# \ in a replacement). Each VALUE must pass plain; an @NAME@ without a value
# stays as it is (the templates' comments say @NAME@). Stops (die) on a
# refused value or an unreadable TEMPLATE.
subst() {
    template=$1
    shift
    for kv in "$@"; do plain "${kv%%=*}" "${kv#*=}"; done
    for kv in "$@"; do set -- "$@" "SUBST_$kv"; shift; done
    env "$@" awk '
        {
            out = ""; line = $0
            while ((i = index(line, "@")) > 0) {
                rest = substr(line, i + 1); j = index(rest, "@"); name = substr(rest, 1, j - 1)
                if (j > 1 && ("SUBST_" name) in ENVIRON) {
                    out = out substr(line, 1, i - 1) ENVIRON["SUBST_" name]; line = substr(rest, j + 1)
                } else { out = out substr(line, 1, i); line = rest }
            }
            print out line
        }' "$template" || die "cannot fill in $template"
}

# cap_loaded: the per-address connection cap's nftables table (install.sh
# --conn-limit; nftables.conf) is loaded.
cap_loaded() { nft list table inet tuturu >/dev/null 2>&1; }

# cap_unload: that table is gone afterwards; returns 1 when nft could not
# remove it.
cap_unload() { ! cap_loaded || nft delete table inet tuturu; }

# port_used PORT tcp|udp: something listens (tcp) or is bound (udp) on PORT.
port_used() {
    cat "/proc/net/$2" "/proc/net/${2}6" 2>/dev/null | awk -v p="$(printf ':%04X' "$1")" \
        -v st="$([ "$2" = tcp ] && echo 0A || echo 07)" '$2 ~ p "$" && $4 == st { f = 1 } END { exit !f }'
}

# coturn_listens UDP_PORT TCP_PORT...: coturn's listeners are all up (UDP on
# the first, TCP on each of the others: TURN and TLS, or behind the one-port
# router its PROXY-protocol port).
coturn_listens() {
    port_used "$1" udp || return 1
    shift
    for p in "$@"; do port_used "$p" tcp || return 1; done
}

# coturn_port_taken UDP_PORT TCP_PORT...: prints "PORT proto" of the first of
# them something already holds. coturn retries a busy port for ever (and
# shares it with another coturn through SO_REUSEPORT), so callers refuse
# instead.
coturn_port_taken() {
    ! port_used "$1" udp || { echo "$1 udp"; return 0; }
    shift
    for p in "$@"; do ! port_used "$p" tcp || { echo "$p tcp"; return 0; }; done
    return 1
}

# alive PID: the process exists and is not a zombie.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

# running PIDFILE DIR: the process PIDFILE names runs, and its command line
# names DIR (a pid file that survived a reboot may name another program).
# Sets pid. Reads at most 20 bytes of a regular file.
running() {
    [ -f "$1" ] && pid=$(head -c 20 "$1" | tr -d '[:space:]') && case $pid in ''|*[!0-9]*) false ;; esac &&
        alive "$pid" && { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$2/"
}

# number NAME VALUE: VALUE is a decimal number, or stop naming NAME.
number() { case $2 in ''|*[!0-9]*) die "$1 must be a number, got '$2'";; esac; }

# ipv4 VALUE: VALUE is one IPv4 address in dotted-quad form (four numbers
# 0-255, no leading zeros: inet_pton's form, which coturn reads).
ipv4() {
    printf '%s\n' "$1" | awk -F. 'NF == 4 { ok = 1; for (i = 1; i <= 4; i++)
        if ($i !~ /^(0|[1-9][0-9]?[0-9]?)$/ || $i + 0 > 255) ok = 0 } END { exit !(ok && NR == 1) }'
}

# peer_ranges NAME LIST: LIST (IPv4 addresses, A-B ranges and CIDR blocks,
# separated by commas or spaces) printed as coturn allowed-peer-ip values,
# one a line: an address as it is, A-B with A <= B, a CIDR block as the
# A-B range it covers (coturn 4.6.1 skips a CIDR line with nothing but
# "Wrong address format" in its log). Anything else (IPv6, a block with
# host bits set, a name) stops (die) naming NAME and the item.
peer_ranges() {
    plain "$1" "$2"
    _ranges=$(printf '%s\n' "$2" | awk '
        function num(s,   p, i, v) {
            if (split(s, p, ".") != 4) return -1
            for (i = 1; i <= 4; i++) {
                if (p[i] !~ /^(0|[1-9][0-9]?[0-9]?)$/ || p[i] + 0 > 255) return -1
                v = v * 256 + p[i]
            }
            return v
        }
        function str(v) { return sprintf("%d.%d.%d.%d", int(v / 16777216), int(v / 65536) % 256, int(v / 256) % 256, v % 256) }
        function bad(item) { print item; failed = 1; exit 1 }
        {
            gsub(/,/, " ")
            for (f = 1; f <= NF; f++) {
                item = $f
                if (item ~ /^[0-9.]+$/) {
                    if (num(item) < 0) bad(item)
                    print item
                } else if (item ~ /^[0-9.]+-[0-9.]+$/) {
                    split(item, ab, "-"); a = num(ab[1]); b = num(ab[2])
                    if (a < 0 || b < 0 || a > b) bad(item)
                    print item
                } else if (item ~ /^[0-9.]+\/(0|[1-9][0-9]?)$/) {
                    split(item, ap, "/"); a = num(ap[1]); size = 2 ^ (32 - ap[2])
                    if (a < 0 || ap[2] > 32 || a % size != 0) bad(item)
                    print str(a) "-" str(a + size - 1)
                } else bad(item)
            }
        }') || die "$1: '$(printf '%s\n' "$_ranges" | tail -n 1)' is not an IPv4 address, A-B range or CIDR block (a.b.c.d/n, host bits zero); give a comma- or space-separated list"
    printf '%s\n' "$_ranges" | grep -v '^$' || true
}

#!/bin/sh
# install.sh: tuturu from a fresh Debian 12 / Ubuntu 22.04+ machine to a
# running service, or into a directory of yours on a shared host.
#
#   ./install.sh                          as root: local mode, under /opt/tuturu
#   ./install.sh --domain D --email E     as root: https://D/ with Let's Encrypt,
#                                         page and TURN over TLS on D:443
#   ./install.sh --prefix DIR             without root: everything under DIR
#   ./install.sh --uninstall [--prefix DIR]
# docs/install.md has every option; ./install.sh --help lists them.
set -eu
umask 022
PATH=$PATH:/usr/sbin:/sbin # lighttpd's place on Debian, off a user's PATH
export PATH

src=$(cd "$(dirname "$0")" && pwd)
me=install
. "$src/scripts/lib.sh"

usage() {
    cat <<'EOF'
usage: ./install.sh [options]
  --domain D         serve https://D/ (needs ports 80 and 443, a DNS record for D,
                     and --email E for Let's Encrypt or --cert F --key F); the
                     page, the API and TURN over TLS share D:443 (the one-port
                     router, HAProxy; --no-one-port: TURN over TLS on --turn-tls-port)
  --email E          Let's Encrypt account e-mail (certbot, renewed automatically)
  --acme-server URL  another ACME directory than Let's Encrypt's (e.g. its staging one)
  --cert F --key F   an existing certificate (PEM, full chain) and its key
  --prefix DIR       install under DIR (default as root: /opt/tuturu); without
                     root this is the only way, and nothing outside DIR changes
  --port P           plain HTTP port (default 8080; 80 with --domain)
  --https-port P     HTTPS port (default 8443 self-signed; 443 with --domain)
  --one-port         local mode: TURN over TLS on the https port too (HAProxy)
  --no-one-port      with --domain: coturn serves TURN over TLS on --turn-tls-port
  --external-ip IP   the public IPv4 address, when this machine is behind NAT
  --force-relay      every call goes through the TURN relay
  --turn-port P      TURN over UDP/TCP (default 3478)
  --turn-tls-port P  TURN over TLS without the one-port router (default 5349)
  --turn-proxy-port P  with the router: coturn takes its connections there,
                     on this machine only (default 3479; keep it closed outside)
  --turn-port-range A-B  relay ports (default 49152-65535)
  --turn-allowed-peers LIST  peers the relay may reach past its deny list (LAN,
                     lab): IPv4 addresses, A-B ranges, CIDR blocks, comma-separated
  --no-turn          no TURN relay
  --conn-limit N     as root: the kernel (nftables) resets a client address's new
                     connections to the web ports past N open ones (default 300,
                     above polls_per_addr; 0: no cap)
  --uninstall        stop tuturu and remove what install.sh installed
Run again with no options (or only --prefix) to upgrade with the same options.
EOF
}

# ---- options ------------------------------------------------------------

opt_domain='' opt_email='' opt_acme_server='' opt_cert='' opt_key='' opt_port='' opt_https_port=''
opt_external_ip='' opt_force_relay=0 opt_turn=1 opt_turn_port=3478
opt_turn_tls_port=5349 opt_turn_proxy_port=3479 opt_one_port='' opt_turn_range=49152-65535 opt_turn_allowed_peers='' opt_conn_limit=300 conn_given=0
prefix='' uninstall=0 nopts=0

need() { [ $# -ge 2 ] && [ -n "$2" ] || { usage >&2; die "$1 needs a value"; }; }
while [ $# -gt 0 ]; do
    case $1 in --prefix|--uninstall) ;; *) nopts=$((nopts + 1)) ;; esac
    case $1 in
        --prefix) need "$@"; prefix=$2; shift ;;
        --uninstall) uninstall=1 ;;
        -h|--help) usage; exit 0 ;;
        --domain) need "$@"; opt_domain=$2; shift ;;
        --email) need "$@"; opt_email=$2; shift ;;
        --acme-server) need "$@"; opt_acme_server=$2; shift ;;
        --cert) need "$@"; opt_cert=$2; shift ;;
        --key) need "$@"; opt_key=$2; shift ;;
        --port) need "$@"; opt_port=$2; shift ;;
        --https-port) need "$@"; opt_https_port=$2; shift ;;
        --external-ip) need "$@"; opt_external_ip=$2; shift ;;
        --force-relay) opt_force_relay=1 ;;
        --no-turn) opt_turn=0 ;;
        --turn-port) need "$@"; opt_turn_port=$2; shift ;;
        --turn-tls-port) need "$@"; opt_turn_tls_port=$2; shift ;;
        --turn-proxy-port) need "$@"; opt_turn_proxy_port=$2; shift ;;
        --one-port) [ "$opt_one_port" != 0 ] || die "--one-port and --no-one-port contradict each other"; opt_one_port=1 ;;
        --no-one-port) [ "$opt_one_port" != 1 ] || die "--one-port and --no-one-port contradict each other"; opt_one_port=0 ;;
        --turn-port-range) need "$@"; opt_turn_range=$2; shift ;;
        --turn-allowed-peers) need "$@"; opt_turn_allowed_peers=$2; shift ;;
        --conn-limit) need "$@"; opt_conn_limit=$2 conn_given=1; shift ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
    shift
done

root=0
[ "$(id -u)" = 0 ] && root=1
if [ -z "$prefix" ]; then
    [ $uninstall = 0 ] || [ $root = 1 ] || die "name the install to remove: ./install.sh --uninstall --prefix DIR"
    [ $root = 1 ] || die "without root, install into a directory of yours: ./install.sh --prefix \$HOME/tuturu"
    prefix=/opt/tuturu
fi
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
case ${prefix%/} in ''|/usr|/usr/local|/etc|/var|/home|/root|/opt|/tmp|*[!A-Za-z0-9/._+-]*)
    die "choose a dedicated directory for --prefix (letters, digits and /._+- only), not '$prefix'" ;;
esac
prefix=${prefix%/}
conf=$prefix/etc/install.conf
mark=$prefix/etc/tuturu-prefix     # this directory is ours, even half-installed

[ $uninstall = 0 ] || { . "$src/scripts/uninstall"; exit 0; }

# A re-run with no options takes those of the last install.
if [ $nopts = 0 ] && [ -f "$conf" ]; then
    . "$conf"
    reused=1
else
    reused=0
fi

# Every value is checked here, before anything changes.
if [ -n "$opt_domain" ]; then
    echo "$opt_domain" | grep -Eq '^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$' ||
        die "--domain must be a DNS name such as call.example.org, got '$opt_domain'"
    [ -n "$opt_email$opt_cert" ] || die "--domain needs --email E (Let's Encrypt) or --cert F --key F"
    [ -z "$opt_email" ] || [ -z "$opt_cert" ] || die "give --email or --cert/--key, not both"
fi
[ -z "$opt_email" ] || [ -n "$opt_domain" ] || die "--email is for Let's Encrypt: it needs --domain"
[ -z "$opt_email" ] || echo "$opt_email" | grep -Eq '^[^@[:space:]'\'']+@[^@[:space:]'\'']+\.[^@[:space:]'\'']+$' ||
    die "--email must be an e-mail address, got '$opt_email'"
[ -z "$opt_email" ] || [ $root = 1 ] ||
    die "Let's Encrypt (--email) needs root (port 80, /etc/letsencrypt); without root use --cert F --key F"
[ -z "$opt_acme_server" ] || [ -n "$opt_email" ] || die "--acme-server goes with --email"
case $opt_acme_server in ''|https://*) ;; *) die "--acme-server must be an https:// ACME directory URL" ;; esac
case $opt_acme_server in *[!A-Za-z0-9:/._~?=\&%-]*) die "--acme-server has characters a URL does not need" ;; esac
if [ -n "$opt_cert$opt_key" ] && { [ -z "$opt_cert" ] || [ -z "$opt_key" ]; }; then
    die "--cert and --key go together"
fi
[ -z "$opt_cert" ] || [ -n "$opt_domain" ] || die "--cert/--key need --domain (the name they are for)"
for f in "$opt_cert" "$opt_key"; do
    [ -z "$f" ] || [ -r "$f" ] || die "cannot read '$f'"
    case $f in *\'*) die "file names with quotes are not supported: '$f'" ;; esac
done
if [ -n "$opt_domain" ]; then
    web_port=${opt_port:-80} https_port=${opt_https_port:-443}
else
    web_port=${opt_port:-8080} https_port=${opt_https_port:-8443}
fi
# The one-port router (HAProxy, haproxy.cfg): by default with --domain, on
# request (--one-port) in local mode. It shares the https port with TURN over
# TLS, so it needs TURN.
[ "$opt_one_port" != 1 ] || [ "$opt_turn" = 1 ] ||
    die "--one-port shares the https port with TURN over TLS: it cannot go with --no-turn"
if [ -z "$opt_one_port" ]; then
    opt_one_port=0
    [ -z "$opt_domain" ] || [ "$opt_turn" = 0 ] || opt_one_port=1
fi
# (coturn's own TLS port is off behind the router, its PROXY port is on)
turn_tcp2=$opt_turn_tls_port
[ "$opt_one_port" = 0 ] || turn_tcp2=$opt_turn_proxy_port
for p in "$web_port" "$https_port" "$opt_turn_port" "$opt_turn_tls_port" "$opt_turn_proxy_port"; do
    number port "$p"
    [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "ports are 1-65535, got $p"
    [ $root = 1 ] || [ "$p" -ge 1024 ] ||
        die "port $p needs root; without root use ports from 1024 (--port 8080 --https-port 8443)"
done
dup=$(printf '%s\n' "$web_port" "$https_port" "$opt_turn_port" "$turn_tcp2" | sort | uniq -d)
[ -z "$dup" ] || die "port $dup is given twice: --port, --https-port, --turn-port and --turn-tls-port (--turn-proxy-port with the one-port router) must all differ"
turn_min=${opt_turn_range%-*} turn_max=${opt_turn_range#*-}
number --turn-port-range "$turn_min"; number --turn-port-range "$turn_max"
[ "$turn_min" -ge 1024 ] && [ "$turn_min" -le "$turn_max" ] && [ "$turn_max" -le 65535 ] ||
    die "--turn-port-range must be A-B with 1024 <= A <= B <= 65535, got '$opt_turn_range'"
[ -z "$opt_external_ip" ] || ipv4 "$opt_external_ip" ||
    die "--external-ip must be an IPv4 address, got '$opt_external_ip'"
peer_ranges --turn-allowed-peers "$opt_turn_allowed_peers" >/dev/null
# (no leading zero: sh would read 0300 as octal; at most 7 digits before -le)
number --conn-limit "$opt_conn_limit"
case $opt_conn_limit in 0) ;; 0*|????????*) die "--conn-limit must be 0 (no cap) or 8-1000000, got '$opt_conn_limit'" ;; esac
[ "$opt_conn_limit" = 0 ] || { [ "$opt_conn_limit" -ge 8 ] && [ "$opt_conn_limit" -le 1000000 ]; } ||
    die "--conn-limit must be 0 (no cap) or 8-1000000, got '$opt_conn_limit'"
# The cap is an nftables table: without root there is none (the summary says so).
if [ $root = 0 ] && [ "$opt_conn_limit" != 0 ]; then
    [ $conn_given = 0 ] || die "--conn-limit needs root (it loads an nftables table); without root give none, or 0"
    opt_conn_limit=0
fi

# ---- steps --------------------------------------------------------------

log=$(mktemp "${TMPDIR:-/tmp}/tuturu-install.XXXXXXXX") || die "cannot write in ${TMPDIR:-/tmp}"
steps=0 current='' t_all=$(date +%s%N)
total=7
[ $root = 1 ] || total=6
[ -z "$opt_email" ] || total=$((total + 1))

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
seconds() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
step() {
    steps=$((steps + 1)) current=$1
    printf '[%d/%d] %-40s ' $steps $total "$1"
    echo "== $1" >> "$log"
    t0=$(date +%s%N)
    shift
    "$@"
    printf 'ok (%s)%s\n' "$(seconds "$(ms_since "$t0")")" "${note:+  $note}"
    note=''
}
note=''
# fail WHAT FIX: the step stops, saying what went wrong and what to do.
fail() {
    printf 'FAILED\n\n  %s\n  fix: %s\n  log: %s\n' "$1" "$2" "$log" >&2
    current=''
    exit 1
}
on_exit() {
    rc=$?
    if [ $rc != 0 ] && [ -n "$current" ]; then
        printf 'FAILED\n\n  step "%s" failed; the end of its log:\n' "$current" >&2
        tail -n 15 "$log" | sed 's/^/    /' >&2
        printf '  log: %s\n' "$log" >&2
    fi
    # An upgrade that failed puts the previous version back (install-steps).
    [ $rc = 0 ] || ! command -v rollback >/dev/null || rollback
}
trap on_exit EXIT
run() { "$@" >> "$log" 2>&1; }

. "$src/scripts/install-steps"

mode=local
[ -z "$opt_domain" ] || mode="https://$opt_domain"
[ "$opt_one_port" = 0 ] || mode="$mode, one port"
[ $root = 1 ] || mode="$mode, no root"
echo "tuturu install ($mode) into $prefix"
[ $reused = 0 ] || echo "(the options of the last install, from $conf)"

step "Checking the machine" check_machine
if [ $root = 1 ]; then step "Installing packages" install_packages
else step "Checking the packages" check_packages; fi
step "Building tuturu-api" build
step "Installing files" install_files
[ $root = 0 ] || step "Creating the tuturu user" make_user
step "Writing the configuration" write_config
[ -z "$opt_email" ] || step "Getting a Let's Encrypt certificate" get_certificate
step "Starting tuturu" start_services
current=''
done_previous
mv "$log" "$prefix/var/log/install.log" 2>/dev/null && log=$prefix/var/log/install.log

summary

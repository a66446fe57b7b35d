# tests/systemd/domain.sh, sourced by tests/systemd/run (its inside, inside_long, check,
# expect, boot, halt, fresh_disk): ./install.sh --domain D --email E
# on a second fresh machine, with the certificate from a test ACME server
# (Debian's pebble, Let's Encrypt's test CA, run inside the container on its
# loopback). Ports 80 and 443; the page, the API and TURN over TLS share 443
# through the one-port router (HAProxy). Debian's lighttpd and haproxy
# packages, which install.sh installs, start their own services there.
# The container's network namespace gets a veth with a documentation
# address (192.0.2.10, TEST-NET-1) for D's A record: getent ahostsv4 wants
# a non-loopback address, and pebble validates http-01 on D:80; no packet
# leaves the namespace.

D=call.tuturu.test
ACME=https://127.0.0.1:14000/dir
main_pid() { inside systemctl show -p MainPID --value "$1"; }
# (the first machine's journal, before its disk goes)
[ -z "$sd" ] || inside journalctl --no-pager > "$out/journal1.log" 2>&1
halt
fresh_disk
if boot && nsenter -t "$sd" -n sh -c 'ip link add v0 type veth peer name v1 && ip addr add 192.0.2.10/32 dev v0 &&
        ip link set v0 up && ip link set v1 up'; then
    ok "a second, fresh container boots (with 192.0.2.10 on a veth of its own)"
else
    notok "a second, fresh container boots"
fi

# pebble: its own certificate for its API (certbot trusts it through
# REQUESTS_CA_BUNDLE), validation on port 80, as a transient unit.
inside sh -c 'cat > /root/pebble.json' <<'EOF'
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "/root/pebble-cert.pem", "privateKey": "/root/pebble-key.pem",
  "httpPort": 80, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
inside sh -c "echo '192.0.2.10 $D' >> /etc/hosts && cd /root && openssl req -x509 -newkey ec \
    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout pebble-key.pem -out pebble-cert.pem" > /dev/null 2>&1
inside_long env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pebble > "$out/pebble.log" 2>&1
inside systemd-run -q --unit=pebble -E PEBBLE_VA_NOSLEEP=1 -E PEBBLE_WFE_NONCEREJECT=0 \
    /usr/bin/pebble -config /root/pebble.json >> "$out/pebble.log" 2>&1
pebble_up() { inside curl -ks -m 2 -o /dev/null "$ACME"; }
i=0
until pebble_up || [ $i -ge 150 ]; do sleep 0.1; i=$((i + 1)); done
check "pebble (the test ACME server) answers on $ACME in the container" pebble_up

inside_long sh -c "cd /root/tuturu && REQUESTS_CA_BUNDLE=/root/pebble-cert.pem timeout 1400 \
    ./install.sh --domain $D --email admin@tuturu.test --acme-server $ACME" > "$out/install-domain.log" 2>&1
rc=$?
sed 's/^/#   /' "$out/install-domain.log"
check "./install.sh --domain $D --email E (pebble) on a fresh machine exits 0" [ $rc = 0 ]
check "... it got the certificate through its own lighttpd on port 80" \
    grep -q "Getting a Let's Encrypt certificate *ok" "$out/install-domain.log"
for svc in lighttpd haproxy; do
    d=$(inside systemctl is-active $svc 2>/dev/null; inside systemctl is-enabled $svc 2>/dev/null)
    check "Debian's own $svc.service (from the package install.sh installed) is stopped and disabled ($(echo $d))" \
        [ "$(echo $d)" = "inactive disabled" ]
done
units3() { inside systemctl is-active tuturu tuturu-turn tuturu-router | xargs; }
check "tuturu, tuturu-turn and tuturu-router are active ($(units3))" [ "$(units3)" = "active active active" ]

# -- one port: page and TURN over TLS on 443, the certificate from pebble
dhealth() { inside curl -sk -m 5 -w ' %{http_code}' --resolve "$D:443:127.0.0.1" "https://$D/api/health"; }
h=$(dhealth)
echo "#   GET https://$D/api/health -> $h"
expect "GET https://$D/api/health answers 200 (through the router)" 'case $h in *"\"status\":\"ok\""*" 200") true ;; *) false ;; esac'
r=$(inside curl -s -m 5 -o /dev/null -w '%{http_code} %{redirect_url}' http://127.0.0.1/)
check "http://127.0.0.1/ (port 80) redirects to https://$D/ ($r)" [ "$r" = "301 https://$D/" ]
# issuer ALPN: the certificate served to a page (ALPN: lighttpd) or to TURN (none: HAProxy)
issuer() {
    inside sh -c "openssl s_client -connect 127.0.0.1:443 -servername $D $1 < /dev/null 2>/dev/null |
        openssl x509 -noout -issuer -serial 2>/dev/null" | xargs
}
page_cert=$(issuer '-alpn http/1.1') turn_cert=$(issuer '')
echo "#   certificate for a page: $page_cert; for TURN: $turn_cert"
expect "443 serves pebble's certificate for $D to pages and to TURN, the same one" \
    'case $page_cert in *Pebble*serial=*) [ "$page_cert" = "$turn_cert" ] ;; *) false ;; esac'
j=$(inside curl -sk -m 5 --resolve "$D:443:127.0.0.1" -X POST -H 'Content-Type: application/json' \
    --data '{"pin":"123456"}' "https://$D/api/join")
echo "#   POST /api/join -> ice_servers $(echo "$j" | grep -o '"ice_servers":\[[^]]*\]' | cut -c1-200)"
expect "the join offers turns:$D:443 and STUN/TURN on 3478, and no 5349" \
    'case $j in *"turns:$D:443?transport=tcp"*"}"*) ! echo "$j" | grep -q ":5349" && echo "$j" | grep -q "turn:$D:3478?transport=udp" ;; *) false ;; esac'
set -- $(echo "$j" | sed -n 's/.*"username":"\([^"]*\)","credential":"\([^"]*\)".*/\1 \2/p')
# turnutils_uclient (coturn's test client; it offers ALPN stun.turn): two
# clients allocate over TLS on 443 and send each other 5 messages through
# their relays (-y).
inside timeout 60 turnutils_uclient -t -S -y -c -n 5 -u "${1:-none}" -w "${2:-none}" -p 443 127.0.0.1 > "$out/uclient-443.log" 2>&1
rc=$?
got=$(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1 \2/p' "$out/uclient-443.log" | tail -n 1)
echo "#   turnutils_uclient over TLS on 443: exit $rc, messages sent and received: ${got:-none}"
expect "TURN over TLS on 443 with the join's credentials: allocations succeed and data is relayed" \
    '[ $rc = 0 ] && [ -n "$got" ] && [ "${got#* }" -gt 0 ]'
check "nothing listens on 5349; coturn takes tcp 3479 (the router's), the router tcp 443 and 3478" \
    sh -c "! nsenter -t $sd -n ss -Hlnt | grep -q ':5349 ' && nsenter -t $sd -n ss -Hlntp 'sport = :3479' | grep -q turnserver &&
        nsenter -t $sd -n ss -Hlntp 'sport = :443' | grep -q haproxy && nsenter -t $sd -n ss -Hlntp 'sport = :3478' | grep -q haproxy"
inside ps -eo user,pid,ppid,args | grep -E 'haproxy|USER' | grep -v grep | sed 's/^/#   /'
router=$(main_pid tuturu-router)
wu=$(inside ps --ppid "$router" -o user= | xargs)
check "the router's master is the unit's main process ($router), its worker runs as tuturu ($wu)" [ "$wu" = tuturu ]
o=$(inside stat -c '%U:%G %a' /opt/tuturu/var/haproxy.cfg /opt/tuturu/var/router.pem /opt/tuturu/var/router | xargs)
check "haproxy.cfg and router.pem are root:tuturu 640, the sockets' directory root:tuturu 750 ($o)" \
    [ "$o" = "root:tuturu 640 root:tuturu 640 root:tuturu 750" ]
wr=$(inside sh -c 'find /opt/tuturu /etc/systemd/system/tuturu-router.service \
    \( -path /opt/tuturu/var/db -o -path /opt/tuturu/var/run -o -path /opt/tuturu/var/cache \) -prune -o \
    ! -path "/opt/tuturu/var/log/*.log" ! -name "*.sock" -print0 | xargs -0 runuser -u tuturu -- sh -c '"'"'for f; do
    if [ -d "$f" ]; then (echo x > "$f/.probe") 2>/dev/null && echo "$f/"; else (echo x >> "$f") 2>/dev/null && echo "$f"; fi
    done; exit 0'"'"' sh')
expect "the tuturu user can write none of root's files, the router's included${wr:+ (writable: $(echo $wr))}" \
    '[ -z "$wr" ] && inside getent passwd tuturu > /dev/null' 

# -- a renewal: certbot renew runs the deploy hook (tuturu certs): the
# router reloads (same master, new worker) and serves the new certificate.
inside_long sh -c 'REQUESTS_CA_BUNDLE=/root/pebble-cert.pem certbot renew --force-renewal --no-random-sleep-on-renew' \
    > "$out/renew-domain.log" 2>&1
rc=$?
check "certbot renew (pebble) exits 0, running tuturu's deploy hook" [ $rc = 0 ]
i=0
until [ "$(issuer '')" != "$turn_cert" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
new_turn=$(issuer '') new_page=$(issuer '-alpn http/1.1')
echo "#   after the renewal: for a page: $new_page; for TURN: $new_turn"
expect "... 443 serves the renewed certificate to pages and to TURN" \
    '[ "$new_turn" != "$turn_cert" ] && [ "$new_turn" = "$new_page" ] && case $new_turn in *Pebble*) true ;; *) false ;; esac'
expect "... the router was reloaded, not restarted (main process $router)" \
    '[ "${router:-0}" != 0 ] && [ "$(main_pid tuturu-router)" = "$router" ]' 

# -- the control script with the router
T=/opt/tuturu/bin/tuturu
check "tuturu stop exits 0" inside_long $T stop
check "... the three units are inactive ($(units3))" [ "$(units3)" = "inactive inactive inactive" ]
check "... nothing listens on 80, 443, 3478 or 3479" sh -c "! nsenter -t $sd -n ss -Hlnut | grep -Eq ':(80|443|3478|3479) '"
check "tuturu start exits 0" inside_long $T start
s=$(inside $T status 2>&1); rc=$?
echo "$s" | sed 's/^/#   tuturu status: /'
expect "tuturu status exits 0, the three units active, health through 443" \
    '[ $rc = 0 ] && [ "$(units3)" = "active active active" ] && case $s in *"health: {"*) true ;; *) false ;; esac'

inside systemctl stop pebble.service > /dev/null 2>&1
inside_long sh -c 'cd /root/tuturu && ./install.sh --uninstall' > "$out/uninstall-domain.log" 2>&1
rc=$?
check "./install.sh --uninstall exits 0" [ $rc = 0 ]
lu=$(inside systemctl list-units --all --no-legend --plain 'tuturu*' | xargs)
check "... systemd knows no tuturu unit any more${lu:+ ($lu)}" [ -z "$lu" ]
check "... no haproxy runs and nothing listens on 80, 443, 3478 or 3479" \
    sh -c "! nsenter -t $sd -p -m -r ps -C haproxy -o pid= > /dev/null && ! nsenter -t $sd -n ss -Hlnut | grep -Eq ':(80|443|3478|3479) '"
f=$(inside systemctl --failed --no-legend --plain | xargs)
check "... no failed unit${f:+ ($f)}" [ -z "$f" ]

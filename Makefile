# tuturu: build, test, run. Variables can be overridden here or in config.mk.
PREFIX   ?= /usr/local
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2
CPPFLAGS += -D_GNU_SOURCE -Icgi-bin
LDLIBS   := -lfcgi -lsqlite3 -ljansson -lcrypto -lpthread
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_CC  ?= clang
FUZZ_SECONDS ?= 20
PORT     ?= 8080
-include config.mk

SRC  := $(filter-out cgi-bin/main.c,$(wildcard cgi-bin/*.c))
HDR  := $(wildcard cgi-bin/*.h)
UNIT := $(wildcard tests/unit/test_*.c)
PEER := tests/unit/fcgi_peer.c tests/unit/fcgi_peer.h

.PHONY: all test unit integration turn web browser installer systemd fresh fresh-ubuntu netlab run bench fuzz fuzz-short clean install check-deps
all: build/tuturu-api

build/schema.c: sql/schema.sql
	@mkdir -p build
	{ echo '/* generated from sql/schema.sql */'; \
	  echo 'const char tuturu_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/.*/"&\\n"/' $<; echo ';'; } > $@

build/tuturu-api: cgi-bin/main.c $(SRC) $(HDR) build/schema.c
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -o $@ cgi-bin/main.c $(SRC) build/schema.c $(LDLIBS)

# The test build: -Werror, AddressSanitizer and UndefinedBehaviorSanitizer.
build/asan/tuturu-api: cgi-bin/main.c $(SRC) $(HDR) build/schema.c
	@mkdir -p build/asan
	$(CC) $(WARN) -Werror -O1 -g $(SAN) $(CPPFLAGS) -o $@ cgi-bin/main.c $(SRC) build/schema.c $(LDLIBS)

# The lab's latency: holds NFQUEUE packets before accepting them (tests/lab/delay.c).
build/lab/delay: tests/lab/delay.c
	@mkdir -p build/lab
	$(CC) $(WARN) -Werror -O1 -g $(SAN) -D_GNU_SOURCE -o $@ $< -lnetfilter_queue -lnfnetlink

build/asan/unit: $(UNIT) $(SRC) $(HDR) build/schema.c tests/unit/unit.h $(PEER)
	@mkdir -p build/asan
	$(CC) $(WARN) -Werror -O1 -g $(SAN) $(CPPFLAGS) -Itests/unit -o $@ $(UNIT) tests/unit/fcgi_peer.c $(SRC) build/schema.c $(LDLIBS) -lcmocka

# The real request path: libfcgi, http.c, api_handle, the park, SQLite.
build/fuzz/request: tests/fuzz/fuzz_request.c $(PEER) $(SRC) $(HDR) build/schema.c
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(WARN) -Werror -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(CPPFLAGS) -Itests/unit -o $@ $< tests/unit/fcgi_peer.c $(SRC) build/schema.c $(LDLIBS)

# The validators and config_set alone (fast: no I/O).
build/fuzz/validate: tests/fuzz/fuzz_validate.c $(SRC) $(HDR) build/schema.c
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(WARN) -Werror -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(CPPFLAGS) -o $@ $< $(SRC) build/schema.c $(LDLIBS)

check-deps:
	@scripts/setup --check

unit: build/asan/unit
	build/asan/unit

# Each target runs FUZZ_SECONDS on its corpus (build/fuzz/<target>-corpus)
# and its seeds; a crash leaves the input in build/fuzz/ and fails.
FUZZ_RUN = mkdir -p build/fuzz/$(1)-corpus; \
	echo "fuzz: $(FUZZ_SECONDS) s of build/fuzz/$(1) (log: build/fuzz/$(1).log)"; \
	build/fuzz/$(1) -max_total_time=$(FUZZ_SECONDS) -max_len=$(2) -timeout=30 \
	    -artifact_prefix=build/fuzz/$(1)- build/fuzz/$(1)-corpus tests/fuzz/seeds-$(1) \
	    > build/fuzz/$(1).log 2>&1 \
	    || { tail -n 40 build/fuzz/$(1).log; echo "fuzz: FAILED (input saved in build/fuzz/)"; exit 1; }; \
	tail -n 2 build/fuzz/$(1).log

fuzz-short: build/fuzz/request build/fuzz/validate
	@$(call FUZZ_RUN,request,70000)
	@$(call FUZZ_RUN,validate,70000)

fuzz: FUZZ_SECONDS = 300
fuzz: fuzz-short

# The API suites run without coturn (TURN=0): faster, and independent of it.
integration: build/asan/tuturu-api
	TURN=0 TUTURU_BIN=$(CURDIR)/build/asan/tuturu-api node --test tests/integration/

# coturn beside the real server: credentials, the production template's
# refusals, process handling.
turn: build/asan/tuturu-api
	TUTURU_BIN=$(CURDIR)/build/asan/tuturu-api node --test tests/turn/

# The page's reducer, transport and negotiation logic, no browser.
web:
	node --test tests/web/

# Real Chromium pages calling each other through the real server.
browser: build/asan/tuturu-api
	TURN=0 TUTURU_BIN=$(CURDIR)/build/asan/tuturu-api node --test tests/browser/

# install.sh from a copy of this tree: --prefix without root, re-run, control
# script, uninstall, refusals.
installer:
	node --test tests/install/

# The README's two commands in a debootstrap'ed Debian 12 root (as root,
# with network; tests/fresh/README.md). Inside that root it does not nest.
fresh:
	tests/fresh/run

# ./install.sh as root under a real systemd 252 (PID 1 of new namespaces in
# a Debian 12 root): the units, the control script, a reboot, --domain, the
# uninstall (as root; tests/systemd/README.md). tests/systemd/qemu, a slower
# companion under qemu, is not part of make test.
systemd:
	tests/systemd/run

# ./install.sh (not the test command) in Ubuntu 22.04 and 24.04 roots: not
# part of `make test`, for changes to install.sh. Each takes about 2 minutes.
fresh-ubuntu:
	FRESH_SUITE=jammy tests/fresh/run
	FRESH_SUITE=noble tests/fresh/run

# Two Chromium in network namespaces behind a router namespace (nftables,
# build/lab/delay for latency), the real server in a third: one line per
# network profile, `N passed, N failed`; a known failure (the next issue's)
# is reported but does not fail (as root; tests/lab/, docs/networks.md).
# LAB_JOBS profiles at a time (default 3).
# Inside tests/fresh/run's root it only builds: the lab's namespaces and
# browsers are the host's part of the same make test (as fresh does not nest).
netlab: check-deps build/asan/tuturu-api build/lab/delay
	@if [ -e /etc/tuturu-fresh-root ]; then \
	    echo "netlab: inside the fresh-machine test root: built build/lab/delay; the lab runs on the host, not nested"; \
	else \
	    node --test tests/lab/delay.test.mjs && \
	    TUTURU_BIN=$(CURDIR)/build/asan/tuturu-api tests/lab/run; \
	fi

test: check-deps unit fuzz-short integration turn web browser netlab installer systemd fresh

run: check-deps build/tuturu-api
	PORT=$(PORT) scripts/serve.sh

bench: check-deps build/tuturu-api
	TURN=0 bench/run
	bench/floor
	node bench/setup.mjs

install: build/tuturu-api
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tuturu
	install -m 755 build/tuturu-api $(DESTDIR)$(PREFIX)/bin/tuturu-api
	cp -R htdocs sql lighttpd.conf turnserver.conf $(DESTDIR)$(PREFIX)/share/tuturu/

clean:
	rm -rf build

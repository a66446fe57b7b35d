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

.PHONY: all test unit integration turn web browser installer systemd fresh fresh-ubuntu run bench fuzz fuzz-short clean install check-deps
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

build/asan/unit: $(UNIT) $(SRC) $(HDR) build/schema.c tests/unit/unit.h
	@mkdir -p build/asan
	$(CC) $(WARN) -Werror -O1 -g $(SAN) $(CPPFLAGS) -Itests/unit -o $@ $(UNIT) $(SRC) build/schema.c $(LDLIBS) -lcmocka

build/fuzz/request: tests/fuzz/fuzz_request.c $(SRC) $(HDR) build/schema.c
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(WARN) -Werror -O1 -g -fsanitize=fuzzer,address,undefined $(CPPFLAGS) -o $@ $< $(SRC) build/schema.c $(LDLIBS)

check-deps:
	@scripts/setup --check

unit: build/asan/unit
	build/asan/unit

fuzz-short: build/fuzz/request
	@mkdir -p build/fuzz/corpus
	@echo "fuzz: $(FUZZ_SECONDS) s of build/fuzz/request (log: build/fuzz/log)"
	@build/fuzz/request -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
	    -artifact_prefix=build/fuzz/ build/fuzz/corpus tests/fuzz/seeds > build/fuzz/log 2>&1 \
	    || { tail -n 40 build/fuzz/log; echo "fuzz: FAILED (input saved in build/fuzz/)"; exit 1; }
	@tail -n 2 build/fuzz/log

fuzz: FUZZ_SECONDS = 600
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

test: check-deps unit fuzz-short integration turn web browser installer systemd fresh

run: check-deps build/tuturu-api
	PORT=$(PORT) scripts/serve.sh

bench: check-deps build/tuturu-api
	TURN=0 bench/run
	bench/floor

install: build/tuturu-api
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tuturu
	install -m 755 build/tuturu-api $(DESTDIR)$(PREFIX)/bin/tuturu-api
	cp -R htdocs sql lighttpd.conf turnserver.conf $(DESTDIR)$(PREFIX)/share/tuturu/

clean:
	rm -rf build

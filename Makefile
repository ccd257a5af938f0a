# FastTun build entry points. `make test` and `make demo` install whatever is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := build

CONFIG ?= Release
DOTNET ?= dotnet
# One or more BenchmarkDotNet globs, space separated: FILTER='*Lpm* *Pipeline*'.
FILTER ?= *
# Extra BenchmarkDotNet arguments, e.g. BENCH_ARGS='--job short' for a quicker, noisier run.
BENCH_ARGS ?=
# Debian packages the build, tests, demo and benchmarks use. Installed only when missing.
APT_PACKAGES := make clang llvm libbpf-dev libxdp-dev iproute2 iputils-ping ethtool tshark tcpdump \
                python3 python3-scapy iperf3 traceroute netsniff-ng curl procps

.PHONY: deps apt-deps nuget-deps build native test bench clean help install uninstall publish

help:
	@echo "make deps    install missing Debian packages and restore NuGet packages"
	@echo "make build   build native/ and the .NET solution ($(CONFIG))"
	@echo "make demo    deps + build + the seed topology with FastTun as gw1 and gw2 (root)"
	@echo "make test    deps + build + every test suite (root tests need root)"
	@echo "make bench   BenchmarkDotNet suites; FILTER='*Checksum*' selects"
	@echo "make bench-e2e  end-to-end benchmark against the kernel in namespaces (root): bench/RESULTS.md"
	@echo "make install PREFIX=/usr/local  self-contained ReadyToRun binary, systemd unit, example config, man page, bash completion"
	@echo "make bench-lpm  FastTun's Lpm4Table vs DPDK rte_lpm/rte_fib, side by side: bench/RESULTS.md"
	@echo "make clean   remove build output"

deps: apt-deps nuget-deps

apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: need root to apt-get install$$missing" >&2; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $$missing >/dev/null || exit 1; \
	else echo "deps: Debian packages present"; fi
	@command -v $(DOTNET) >/dev/null || { echo "deps: the .NET 10 SDK (dotnet) is required and not on PATH" >&2; exit 1; }

nuget-deps:
	$(DOTNET) restore FastTun.sln --verbosity quiet

native:
	$(MAKE) -C native

build: native nuget-deps
	$(DOTNET) build FastTun.sln -c $(CONFIG) --no-restore --verbosity quiet -nologo

test: deps build
	CONFIG=$(CONFIG) DOTNET=$(DOTNET) bash tests/run-tests.sh

bench: deps build
	$(DOTNET) run -c $(CONFIG) --no-build --project bench/FastTun.Benchmarks -- --filter $(foreach f,$(FILTER),'$(f)') $(BENCH_ARGS)

clean:
	$(MAKE) -C native clean
	$(DOTNET) clean FastTun.sln -c $(CONFIG) --verbosity quiet -nologo
	rm -rf BenchmarkDotNet.Artifacts

.PHONY: demo
demo: deps build
	bash bench/e2e/demo.sh

.PHONY: bench-e2e
# End-to-end benchmark against the kernel (namespaces, root): writes bench/RESULTS.md. ROUNDS=, TRIAL= tune it.
bench-e2e: deps build
	bash bench/e2e/run.sh

# Installation. PREFIX=/usr/local by default; DESTDIR stages a package. The configuration directory is /etc for
# PREFIX=/usr, else PREFIX/etc; the unit's ExecStart and config path are rewritten to match.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
APPDIR ?= $(PREFIX)/lib/fasttun
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
RID ?= linux-x64
PUBLISH_DIR := build/publish

# Self-contained composite ReadyToRun build of the fasttun executable (the app and the .NET runtime precompiled as
# one image, ~100 MB): no framework resolution at start and generic code precompiled across assemblies, so CLI
# commands start faster (bench/cli/startup.sh). The R2R intermediates are removed first: a composite and a
# non-composite publish share obj/, and a stale component image makes the runtime abort at start.
publish: native nuget-deps
	rm -rf $(PUBLISH_DIR) src/FastTun.Gateway/obj/$(CONFIG)/net10.0/$(RID)/R2R
	$(DOTNET) publish src/FastTun.Gateway -c $(CONFIG) -r $(RID) --self-contained true -p:PublishReadyToRun=true \
	  -p:PublishReadyToRunComposite=true -o $(PUBLISH_DIR) --verbosity quiet -nologo
	cp native/build/libfasttun_xdp.so native/build/xdp_redirect.bpf.o native/build/xdp_gen.bpf.o $(PUBLISH_DIR)/

install: publish
	install -d $(DESTDIR)$(APPDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/fasttun \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPLETIONDIR)
	cp -r $(PUBLISH_DIR)/. $(DESTDIR)$(APPDIR)/
	rm -f $(DESTDIR)$(APPDIR)/*.pdb
	ln -sfn $(APPDIR)/fasttun $(DESTDIR)$(BINDIR)/fasttun
	sed -e 's|@bindir@|$(BINDIR)|g' -e 's|%E/fasttun|$(SYSCONFDIR)/fasttun|g' contrib/fasttun@.service \
	  > $(DESTDIR)$(UNITDIR)/fasttun@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/fasttun@.service
	install -m 0644 contrib/example.conf $(DESTDIR)$(SYSCONFDIR)/fasttun/example.conf
	bash contrib/man.sh $(PUBLISH_DIR)/fasttun > $(DESTDIR)$(MANDIR)/man1/fasttun.1
	$(PUBLISH_DIR)/fasttun completion bash > $(DESTDIR)$(COMPLETIONDIR)/fasttun
	@echo "installed fasttun $$($(PUBLISH_DIR)/fasttun --version | cut -d' ' -f2) under $(DESTDIR)$(PREFIX);" \
	  "configure $(SYSCONFDIR)/fasttun/NAME.conf, then: systemctl daemon-reload && systemctl enable --now fasttun@NAME"

uninstall:
	rm -rf $(DESTDIR)$(APPDIR)
	rm -f $(DESTDIR)$(BINDIR)/fasttun $(DESTDIR)$(UNITDIR)/fasttun@.service $(DESTDIR)$(MANDIR)/man1/fasttun.1 \
	  $(DESTDIR)$(COMPLETIONDIR)/fasttun $(DESTDIR)$(SYSCONFDIR)/fasttun/example.conf

.PHONY: bench-lpm
# LPM side by side with DPDK's rte_lpm and rte_fib (bench/lpm/README.md). ROUNDS=, LPM_CPU= tune it.
ROUNDS ?= 7
LPM_CPU ?= 1
bench-lpm: deps build
	@dpkg-query -W -f='$${Status}' libdpdk-dev 2>/dev/null | grep -q "install ok installed" || { \
	  echo "bench-lpm: installing libdpdk-dev"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq libdpdk-dev >/dev/null; }
	$(MAKE) -C bench/lpm
	flock /tmp/fasttun-bench.lock python3 bench/lpm/run.py --rounds $(ROUNDS) --cpu $(LPM_CPU)

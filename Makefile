# One command a task: `make run`, `make test`, `make lint`, `make bench`.
# Every target installs what it needs on a fresh Debian 12 machine.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEB_PACKAGES := libvirt-dev pkg-config libvirt-clients libxml2-utils scrypt xfsprogs \
                gcc python3-dev xvfb libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 \
                libdbus-1-3 libfontconfig1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 \
                libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 \
                libxcb-image0
PYTEST_ARGS ?=

.PHONY: all deps system-deps run test lint bench clean

all: test

system-deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml | system-deps
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

deps: system-deps $(STAMP)

run: deps
	$(PY) -m qubes_manager.manager

test: deps
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

lint: deps
	$(PY) -m ruff check backend qubes_manager widgets dialogs tray tests
	$(PY) -m mypy backend qubes_manager

bench: deps
	@for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# SPDX-License-Identifier: Apache-2.0
# The two commands of the README: `make demo` and `make test`. Both set everything up.
VENV   ?= .venv
PY     := $(VENV)/bin/python
CACHE  ?= .cache/fixtures
PYTEST_ARGS ?=

.PHONY: setup demo test bench lint clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed
	sh scripts/host-deps.sh

# the bundled sample: a Yocto-like rootfs carrying podman-saved images, built from real
# Debian packages (cached after the first run), then the main job on it
demo: setup
	$(PY) -m tests.fixtures.build --cache $(CACHE)
	mkdir -p out
	$(VENV)/bin/container-audit scan $$($(PY) -m tests.fixtures.build --cache $(CACHE) --print rootfs.podman) -o table -o json=out/demo-inventory.json

test: setup
	sh tests/tools/services.sh start
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m tests.bench

clean:
	rm -rf $(VENV) .cache out

# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.test-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest system-deps sound-deps browser-deps clean

run: $(STAMP) sound-deps
	$(VENV)/bin/radio serve --host $(HOST) --port $(PORT) --stations stations.toml --cache cache

test: $(TEST_STAMP) system-deps
	$(VENV)/bin/ruff check radio tests
	$(VENV)/bin/ruff format --check radio tests
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e .
	touch $@

# torch==2.13.0 is installed on its own first so pip takes the local CPU wheel
# instead of resolving a CUDA build through transformers.
$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[musicgen,ray,test]'
	touch $(STAMP) $@

# ffmpeg/ffprobe decode our streams in the tests; chromium drives the web tests;
# streamripper reads a mount raw in the tests; icecast2 is what `radio bench listeners
# --against-icecast` measures us against, and the origin and relay of tests/test_icecast.py;
# libfluidsynth3 and fluid-soundfont-gm are the synth's sampled instruments (without them it
# plays sine voices, and its tests say so).
SOUNDFONT := /usr/share/sounds/sf2/FluidR3_GM.sf2
SYSTEM_PACKAGES := ffmpeg chromium streamripper icecast2 libfluidsynth3 fluid-soundfont-gm
system-deps:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null && command -v chromium >/dev/null \
		&& command -v streamripper >/dev/null && command -v icecast2 >/dev/null \
		&& [ -f $(SOUNDFONT) ] && /sbin/ldconfig -p | grep -q libfluidsynth.so.3 || { \
		echo "installing Debian packages: $(SYSTEM_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; }

# What `make run` needs to sound like instruments; the server runs without them (sine
# voices, and `radio doctor` says so), so a machine that cannot install them still plays.
SOUND_PACKAGES := libfluidsynth3 fluid-soundfont-gm
sound-deps:
	@[ -f $(SOUNDFONT) ] && /sbin/ldconfig -p | grep -q libfluidsynth.so.3 || { \
		echo "installing Debian packages: $(SOUND_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install \
			-y -qq --no-install-recommends $(SOUND_PACKAGES) >/dev/null; } \
		|| echo "could not install $(SOUND_PACKAGES): the synth will play its sine voices"; }

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

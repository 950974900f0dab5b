# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.touchgate-installed
# The unmodified wyoming-satellite program the Wyoming tests run, in a venv of its own.
SATELLITE := $(VENV)/wyoming-satellite
SATELLITE_STAMP := $(SATELLITE)/.installed

.PHONY: demo test test-pi system venv bench clean

system:
	@bash scripts/ensure-system-packages.sh

$(STAMP): pyproject.toml scripts/debian-packages.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[speech,demo,test]'
	@touch $@

# Rebuilt only when its pins change (the stamp is newer than them otherwise).
$(SATELLITE_STAMP): scripts/wyoming-satellite-requirements.txt
	@mkdir -p $(VENV)
	$(PYTHON) -m venv --clear $(SATELLITE)
	$(SATELLITE)/bin/python -m pip install --quiet --requirement $<
	@cp $< $@

venv: system $(STAMP) $(SATELLITE_STAMP)

demo: venv
	$(BIN)/touchgate demo

test: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2

# The gateway installed by deploy/install.sh into an emulated arm64 Debian 12 (Raspberry Pi OS)
# tree and smoke-tested there (scripts/pi-emulated.sh; root, qemu-user-static). Skips, saying
# why, where the machine cannot emulate arm64. Bounded as a whole, so it cannot eat CI's budget.
TEST_PI_TIMEOUT ?= 70m
test-pi:
	@timeout $(TEST_PI_TIMEOUT) bash scripts/pi-emulated.sh

# Each benchmark prints its figures as one JSON line last; reliability.py (long) runs on its own.
BENCHES := ingest sync rules privacy voice tts api analytics

bench: venv
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info

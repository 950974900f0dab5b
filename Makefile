# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.touchgate-installed

.PHONY: demo test system venv bench clean

system:
	@bash scripts/ensure-system-packages.sh

$(STAMP): pyproject.toml scripts/debian-packages.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[speech,demo,test]'
	@touch $@

venv: system $(STAMP)

demo: venv
	$(BIN)/touchgate demo

test: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Each benchmark prints its figures as one JSON line last; reliability.py (long) runs on its own.
BENCHES := ingest sync rules privacy voice tts api analytics

bench: venv
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info

# Two commands do all the set-up on a fresh machine:
#   make demo   # venv + install, train and evaluate the seed's model on RAVDESS, save a bundle and a report, predict
#   make test   # venv + install, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= $(or $(EMOVOX_DATA),../shared/data/ravdess)
SAMPLE ?= $(DATA)/Actor_01/03-01-06-01-02-01-01.flac
SEED_MODEL ?= build/seed-mlp.emovox
MODEL  ?= build/emovox-default.emovox

.PHONY: demo test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps 'silero-vad==6.2.3'
	touch $@

# The seed's model (its 4 emotions; its random split and the speaker-independent one), the
# seed's model on all 8 emotions, then emovox's default model on all 8, and a prediction.
demo: $(BIN)/.installed
	$(BIN)/emovox train --data $(DATA) --emotions seed --recipe seed-mlp \
	    --protocol seed --protocol ravdess-si6 --out $(SEED_MODEL) --report build/report-seed4
	$(BIN)/emovox evaluate --data $(DATA) --emotions all --recipe seed-mlp \
	    --protocol ravdess-si6 --report build/report-seed-all8
	$(BIN)/emovox train --data $(DATA) --emotions all \
	    --protocol ravdess-si6 --out $(MODEL) --report build/report-default-all8
	$(BIN)/emovox predict $(SAMPLE) --model $(MODEL)

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

clean:
	rm -rf build .pytest_cache

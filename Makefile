# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: run test venv bench clean mutation

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(PIP) install -q -e ".[test,ray]"
	touch $(TEST_STAMP)

venv: $(STAMP)

## Run the main job on a bundled dataset and print where the outputs went.
run: $(STAMP)
	$(VENV)/bin/metaad detect breast_cancer

## Create/update the virtual environment with the test extras and run the test suite.
test: $(TEST_STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

## Mutation testing (mutmut) of the core modules; slow, not in CI. Counts and how to read them: TESTING.md.
## One module: make mutation MUTATE='metaad.detectors.thresholding*'
MUTATE ?= metaad.detectors.trainer* metaad.detectors.thresholding* metaad.evaluation.metrics* metaad.detectors.base* metaad.persistence*
MUTATION_CHILDREN ?= 2
mutation: $(TEST_STAMP)
	$(PIP) install -q -e ".[mutation]"
	OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN) $(foreach m,$(MUTATE),"$(m)")
	$(VENV)/bin/mutmut results

clean:
	rm -rf $(VENV) metaad-out .pytest_cache mutants

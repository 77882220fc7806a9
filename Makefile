# Train the Interface — every target sets itself up (idempotently) before it runs.
#   make course   build the corpus and execute every notebook (PRESET=auto: gpu if CUDA, else cpu)
#   make test     ruff + unit tests + every notebook in the smoke preset + nbval   (the CI command)
#   make lab      JupyterLab on 127.0.0.1 with the course kernel
#   make workshop the slider apps (Voilà) on 127.0.0.1 for a projector
#   make pretrain train every checkpoint of notebooks 00-02 and 04's codecs ahead of time (JOBS=8 on one GPU)
#   make gpu-kit  pack the corpus and wheels a lent GPU machine needs (.gpukit/; see scripts/gpu_check.sh)
#   make kit      a room kit: PRESET's corpus + its checkpoints in one file; `make unkit KIT=…` on each laptop
#   make doctor   is this machine ready? packages, memory, disk, corpus, cache, and how fast it trains
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PRESET ?= auto
SEED ?= 0
PYTEST_NET := --allow-hosts=127.0.0.1,localhost,::1

.PHONY: setup corpus course pretrain test lint unit notebooks-smoke nbval browser workshop claims claims-table lab bench gpu-kit kit unkit doctor clean

setup:
	@NO_SYSTEM_PACKAGES=$(NO_SYSTEM_PACKAGES) bash scripts/setup.sh

corpus: setup
	$(PY) data_scripts/build_corpus.py --preset $$($(PY) -c "from course_lib.presets import get; print(get('$(PRESET)').corpus)")

course: corpus
	$(PY) -m course_lib.run_notebooks --preset $(PRESET) --seed $(SEED) --out build/course --html

# Train every checkpoint of 00-02 and 04's codecs ahead of a workshop (JOBS processes side by side; 6-8 on one GPU).
pretrain: corpus
	$(PY) data_scripts/pretrain.py --preset $(PRESET) --seed $(SEED) --jobs $${JOBS:-2}

lint: setup
	$(VENV)/bin/ruff check course_lib data_scripts tests benchmarks scripts

unit: setup
	$(VENV)/bin/pytest $(PYTEST_NET) -q -m "not browser" tests

notebooks-smoke: setup
	$(PY) data_scripts/build_corpus.py --preset smoke
	PYTHONPATH=$(CURDIR)/tests/netguard $(PY) -m course_lib.run_notebooks --preset smoke --seed 0 --out build/smoke

# nbval re-executes the smoke notebooks on a laptop made from a room kit: the smoke corpus and checkpoints
# packed, unpacked into empty folders, no corpus renderer on PATH; then `verify` fails if anything trained
ROOM := build/kit-room
ROOM_ENV := COURSE_DATA=$(CURDIR)/$(ROOM)/data COURSE_CHECKPOINTS=$(CURDIR)/$(ROOM)/checkpoints
nbval: notebooks-smoke
	rm -rf $(ROOM)
	$(PY) scripts/room_kit.py pack --preset smoke --out $(ROOM)/kit.tar
	$(ROOM_ENV) $(PY) scripts/room_kit.py unpack $(ROOM)/kit.tar
	$(ROOM_ENV) PATH=$(CURDIR)/$(VENV)/bin PYTHONPATH=$(CURDIR)/tests/netguard $(VENV)/bin/pytest $(PYTEST_NET) -q \
		--nbval-lax --nbval-kernel-name course -p no:cacheprovider build/smoke/*.ipynb
	$(ROOM_ENV) $(PY) scripts/room_kit.py verify $(ROOM)/kit.tar

# every notebook in cpu over seeds 0-4 (about 3.5 h on 2 cores), then the table of claims; a claim that
# does not hold stops its notebook but not the run.  `make claims-table` only rebuilds the table;
# `make claims-table ONLY="05 06"` rebuilds those notebooks' rows and keeps every other row as it is.
claims: setup
	for s in 0 1 2 3 4; do $(PY) -m course_lib.run_notebooks --preset cpu --seed $$s --out build/claims-run/seed$$s \
		--keep-going; done
	$(MAKE) --no-print-directory claims-table

claims-table: setup
	$(PY) -m course_lib.claims_table --preset cpu --out benchmarks/claims.md --readme README.md \
		$(if $(ONLY),--only $(ONLY))

# headless Chromium drives the Voilà slider app (it loads the smoke codec of notebook 03, or trains it)
browser: setup
	$(VENV)/bin/pytest $(PYTEST_NET) -q -m browser -p no:cacheprovider tests/test_browser.py

# the slider apps for a projector: Voilà on 127.0.0.1 (PORT=8866), cached checkpoints of PRESET
workshop: corpus
	@echo "Voilà: open http://127.0.0.1:$${PORT:-8866}/ (run notebooks 03 and 04, or make course, first, or make unkit: the apps load their models)"
	cd workshops && COURSE_PRESET=$(PRESET) COURSE_SEED=$(SEED) ../$(VENV)/bin/voila --port=$${PORT:-8866} \
		--no-browser --Voila.ip=127.0.0.1 .

test: setup
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint && \
	$(MAKE) --no-print-directory unit && \
	$(MAKE) --no-print-directory nbval && \
	$(MAKE) --no-print-directory browser && \
	echo "make test: all passed in $$(( $$(date +%s) - start )) s"

lab: setup
	$(PY) data_scripts/build_corpus.py --preset $$($(PY) -c "from course_lib.presets import get; print(get('$(PRESET)').corpus)")
	@token=$${TOKEN:-$$(openssl rand -hex 16)}; \
	echo "JupyterLab: open http://127.0.0.1:$${PORT:-8888}/lab?token=$$token  (kernel: 'Train the Interface (course)')"; \
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$${PORT:-8888} --no-browser --notebook-dir=notebooks \
		--IdentityProvider.token=$$token $$([ "$$(id -u)" = 0 ] && echo --allow-root)

# the training benchmark (about 8 min), then every notebook twice (empty cache, then cached) in smoke
# and cpu, each alone (about 1 h on 2 cores) -> benchmarks/results.md and the README's syllabus table
bench: setup
	$(PY) data_scripts/build_corpus.py --preset cpu
	$(PY) benchmarks/bench_train.py --preset cpu
	$(PY) benchmarks/bench_notebooks.py --presets smoke cpu --seed $(SEED)

# what a lent GPU machine cannot make: the cpu corpus's clean speech and music as FLAC, and the wheels
# its image lacks -> .gpukit/ (git-ignored); then one device call runs `bash scripts/gpu_check.sh`
gpu-kit: setup
	$(PY) data_scripts/build_corpus.py --preset cpu
	$(PY) scripts/gpu_kit.py

# a room kit: the corpus of PRESET and every checkpoint of seed SEED (default 0; SEED=all: every seed) trained
# on it, in one file for other laptops (build/kit-<preset>-<corpus hash>.tar); `make unkit KIT=…` installs one
# (checked, never over another corpus)
kit: corpus
	$(PY) scripts/room_kit.py pack --preset $(PRESET) --seed $(SEED)

unkit: setup
	@[ -n "$(KIT)" ] || { echo "make unkit KIT=path/to/kit-….tar (the file make kit wrote)" >&2; exit 2; }
	$(PY) scripts/room_kit.py unpack "$(KIT)"

# is this machine ready for PRESET (default: what auto picks)? about 8 s; exit status 1 when something must be fixed
doctor: setup
	$(PY) scripts/doctor.py --preset $(PRESET)

clean:
	rm -rf build

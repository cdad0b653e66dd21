"""numpy (OpenBLAS) sgemm throughput on the shapes of benches/tensor.rs.

Prints GFLOP/s for 1 and 2 BLAS threads (threadpoolctl) and which OpenBLAS
kernel ran. To measure a current numpy fairly on this machine, unset
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this command only:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benches/reference/matmul_numpy.py
"""

import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

SHAPES = [(64, 228, 512), (512, 256, 768), (512, 256, 1024)]


def gflops(m: int, k: int, n: int, repeats: int = 15, min_time: float = 1.0) -> tuple[float, float]:
    """Median and best GFLOP/s of `a @ b` (float32) into a preallocated output.

    The best of several timed batches is the least disturbed by other work on
    a shared machine; the median is what criterion's middle estimate compares to.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            np.matmul(a, b, out=out)
        if time.perf_counter() - start > min_time / repeats:
            break
        loops *= 2
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            np.matmul(a, b, out=out)
        rates.append(2 * m * n * k * loops / (time.perf_counter() - start) / 1e9)
    return float(np.median(rates)), float(max(rates))


def main() -> None:
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    for info in blas:
        print(f"# {info.get('internal_api')} {info.get('version')} kernel={info.get('architecture')} max_threads={info.get('num_threads')}")
    print(f"# numpy {np.__version__}")
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            for m, k, n in SHAPES:
                median, best = gflops(m, k, n)
                print(f"numpy_sgemm/{threads}t/{m}x{k}x{n}: median {median:.1f} GFLOP/s, best {best:.1f} GFLOP/s")


if __name__ == "__main__":
    main()

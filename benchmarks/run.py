"""Speed and memory of sklearn-relreps against the bare hardware floor and peers.

Workload W: 100,000 samples x 768 float32 features against 1,000 anchors
(``--quick``: W/10, 10,000 samples). For every similarity, for the default
``InvariantProductTransformer`` and for ``fit`` with each anchor strategy, the
median wall time and the peak memory are measured next to, in the same run, a
bare NumPy ``X @ A.T``, SciPy's ``cdist`` and PyTorch on the CPU
(``torch.cdist`` or a normalised matrix product, as the peer library computes
them). The machine is shared, so absolute times are noisy: the ratios, measured
in the same run, are what the targets refer to.

Usage::

    python benchmarks/run.py --quick            # W/10, a minute or two
    python benchmarks/run.py                    # W, about 15 minutes
    python benchmarks/run.py --write-readme     # also update benchmarks/README.md

Peak memory is the rise of the process's peak resident set size (Linux
``VmHWM``, reset before each call) over the resident size before the call, so it
counts every allocator (NumPy, PyTorch, compiled kernels) and includes the
output array. It is measured in a second process of its own, whose allocator
maps every large block afresh and unmaps it when freed (see
``release_freed_memory``), so that memory freed by one call cannot hide what the
next one allocates; the timings run with the allocator as users have it.
"""

import argparse
import ctypes
import gc
import json
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import sklearn
from joblib import parallel_config
from scipy.spatial.distance import cdist

import sklearn_relreps
from sklearn_relreps import InvariantProductTransformer, RelativeTransformer

try:
    import torch
except ImportError:  # torch is a benchmark-only extra
    torch = None

SIMILARITIES = ["cosine", "dot", "euclidean", "rbf", "l1", "linf"]
STRATEGIES = ["random", "kmeans", "fps"]
N_FEATURES, N_ANCHORS = 768, 1000
SCIPY_METRIC = {
    "cosine": "cosine",
    "euclidean": "euclidean",
    "rbf": "sqeuclidean",
    "l1": "cityblock",
    "linf": "chebyshev",
}
README = Path(__file__).with_name("README.md")
BEGIN, END = "<!-- results: begin -->", "<!-- results: end -->"


# -- measuring ----------------------------------------------------------------


def _status_kib(field):
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1))


def release_freed_memory():
    """Make glibc map large blocks afresh and give them back when freed.

    Without this, memory freed by one call stays resident and hides what the
    next call allocates. Only the memory pass runs with it: it also makes
    every large temporary fresh pages, which slows down the timings.
    """
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 2**20)
    libc.mallopt(m_trim_threshold, 2**20)


def timed(func, repeats):
    """Median seconds of ``func()`` over `repeats`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def steady(func):
    """Seconds of one call of ``func()`` right after an untimed one.

    A call pays for what the previous call left behind: after a threaded
    product, OpenBLAS's idle threads spin for about 0.1 s of CPU, so a call
    right after ``X @ A.T`` runs on one free core for that long. Each call is
    thus timed after a call of the same function, as `timed` repeats do.
    """
    func()
    return timed(func, 1)


def timed_alternately(first, second, repeats):
    """Median seconds of ``first()`` and of ``second()``, in turns (`steady`)."""
    times = [(steady(first), steady(second)) for _ in range(repeats)]
    return tuple(statistics.median(column) for column in zip(*times, strict=True))


def peak_memory(func):
    """Rise of the peak resident memory (MiB) during ``func()``."""
    gc.collect()
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM
    result = func()
    peak = (_status_kib("VmHWM") - before) / 1024
    del result
    return peak


# -- the contenders -----------------------------------------------------------


def torch_similarity(name, X, A):
    """What the peer library computes, with PyTorch on the CPU."""
    if name in ("cosine", "dot"):
        tX, tA = torch.from_numpy(X), torch.from_numpy(A)
        if name == "cosine":
            tX = torch.nn.functional.normalize(tX, dim=1)
            tA = torch.nn.functional.normalize(tA, dim=1)
        return (tX @ tA.T).numpy()
    p = {"euclidean": 2.0, "rbf": 2.0, "l1": 1.0, "linf": float("inf")}[name]
    distances = torch.cdist(torch.from_numpy(X), torch.from_numpy(A), p=p)
    if name == "rbf":
        distances = torch.exp(-(distances**2) / X.shape[1])
    return distances.numpy()


def scipy_similarity(name, X, A):
    distances = cdist(X, A, metric=SCIPY_METRIC[name])
    return np.exp(-distances / X.shape[1]) if name == "rbf" else distances


# -- the workload -------------------------------------------------------------


def make_data(n_samples, seed=0):
    """Clustered float32 embeddings (a mixture of 100 Gaussians), and anchors."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((100, N_FEATURES), dtype=np.float32)
    X = centres[rng.integers(0, 100, n_samples)]
    X += 0.7 * rng.standard_normal((n_samples, N_FEATURES), dtype=np.float32)
    anchors = X[rng.choice(n_samples, N_ANCHORS, replace=False)]
    return X, anchors


def machine():
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s+(.*)", cpu).group(1).strip()
    n_cpus = re.search(r"^CPU\(s\):\s+(\d+)", cpu, re.MULTILINE).group(1)
    total = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    versions = (
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"SciPy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"sklearn-relreps {sklearn_relreps.__version__}"
        + (f", PyTorch {torch.__version__}" if torch else "")
    )
    return (
        f"{model}, {n_cpus} CPUs, {int(total.group(1)) / 2**20:.0f} GiB memory; "
        f"{versions}"
    )


def our_tasks(X, A):
    """``(name, callable)`` for each measurement of sklearn-relreps."""
    tasks = []
    for name in SIMILARITIES:
        est = RelativeTransformer(
            anchors=A, similarity=name, center=False, output_norm=None
        ).fit(A)
        est.transform(X[:8])  # compile the L1/L-inf kernels outside the timing
        tasks.append((name, lambda est=est: est.transform(X)))
    product = InvariantProductTransformer(anchors=A, center=False).fit(A)
    tasks.append(("product (4 blocks)", lambda: product.transform(X)))
    for strategy in STRATEGIES:
        est = RelativeTransformer(
            N_ANCHORS, anchors=strategy, center=False, output_norm=None, random_state=0
        )
        tasks.append((f"fit, anchors={strategy!r}", lambda est=est: est.fit(X)))
    return tasks


def memory_pass(n_samples):
    """Peak memory of every task, and of the product at two sizes (own process)."""
    release_freed_memory()
    X, A = make_data(n_samples)
    peaks = {name: peak_memory(func) for name, func in our_tasks(X, A)}
    product = InvariantProductTransformer(anchors=A, center=False).fit(A)
    lines = [
        "| samples | working_memory (MiB) | peak beyond the output (MiB) |",
        "|---|---|---|",
    ]
    for working_memory in (1024, 128):
        for n in (n_samples // 4, n_samples):
            with sklearn.config_context(working_memory=working_memory):
                peak = peak_memory(lambda n=n: product.transform(X[:n]))
            output = n * 4 * N_ANCHORS * X.itemsize / 2**20
            lines.append(f"| {n:,} | {working_memory} | {peak - output:.0f} |")
    return {"peaks": peaks, "scaling": "\n".join(lines)}


def timing_pass(n_samples, repeats, slow_repeats):
    X, A = make_data(n_samples)
    tasks = dict(our_tasks(X, A))
    rows = []

    def row(task):
        # Ours and the floor in turns: the machine's speed drifts over a long
        # run (other tenants, memory reclaim after the baselines' large
        # arrays), and each ratio should compare calls close in time.
        ours, floor = timed_alternately(tasks[task], lambda: X @ A.T, repeats)
        entry = {
            "task": task,
            "time": ours,
            "floor": floor,
            "scipy": None,
            "torch": None,
            "note": "",
        }
        rows.append(entry)
        return entry

    for name in SIMILARITIES:
        entry = row(name)
        # Baselines are warmed up on a few rows, as ours are in our_tasks.
        if name in SCIPY_METRIC:  # tens of seconds on W, whatever the metric
            scipy_similarity(name, X[:8], A)
            entry["scipy"] = timed(
                lambda n=name: scipy_similarity(n, X, A), slow_repeats
            )
        if torch:
            torch_similarity(name, X[:8], A)
            n_torch = slow_repeats if name in ("l1", "linf") else repeats
            entry["torch"] = timed(lambda n=name: torch_similarity(n, X, A), n_torch)
            time.sleep(1)
        print(format_row(entry), flush=True)
    product = InvariantProductTransformer(anchors=A, center=False).fit(A)
    blocks = [
        RelativeTransformer(
            anchors=A, similarity=name, center=False, output_norm="standard"
        ).fit(A)
        for name in product.similarities
    ]
    entry = row("product (4 blocks)")
    # The product and its blocks alone, in turns too.
    product_time, blocks_sum = timed_alternately(
        lambda: product.transform(X),
        lambda: [b.transform(X) for b in blocks],
        repeats,
    )
    entry["note"] = (
        f"{product_time / blocks_sum:.2f}x the sum of its 4 blocks alone "
        f"({product_time:.3f} s against {blocks_sum:.3f} s, taken in turns)"
    )
    print(format_row(entry), flush=True)
    cosine_time = timed(tasks["cosine"], repeats)
    for strategy in STRATEGIES:
        entry = row(f"fit, anchors={strategy!r}")
        entry["note"] = (
            f"{entry['time'] / cosine_time:.2f}x one cosine transform "
            f"({cosine_time:.3f} s)"
        )
        print(format_row(entry), flush=True)
    return rows


def alone_pass(n_samples, repeats, names):
    """Time `names` against the floor, in turns, with nothing else in the process."""
    X, A = make_data(n_samples)
    tasks = dict(our_tasks(X, A))
    for name in names:
        ours, floor = timed_alternately(tasks[name], lambda: X @ A.T, repeats)
        print(
            f"{name}: {ours:.3f} s, floor {floor:.3f} s, {ours / floor:.2f}x the floor"
        )


# -- reporting ----------------------------------------------------------------


def _ratio(ours, other):
    return f"{other / ours:.1f}x" if other else ""


def format_row(entry):
    memory = f"{entry['memory']:.0f}" if "memory" in entry else "..."
    return (
        f"| {entry['task']} | {entry['time']:.3f} | {memory} | "
        f"{entry['time'] / entry['floor']:.2f} | "
        f"{entry['scipy'] and round(entry['scipy'], 2) or ''} | "
        f"{_ratio(entry['time'], entry['scipy'])} | "
        f"{entry['torch'] and round(entry['torch'], 2) or ''} | "
        f"{_ratio(entry['time'], entry['torch'])} | {entry['note']} |"
    )


HEADER = (
    "| task | time (s) | peak memory (MiB) | time / `X @ A.T` | SciPy `cdist` (s) "
    "| SciPy / ours | PyTorch CPU (s) | PyTorch / ours | note |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def table(rows, n_samples, description):
    floors = [r["floor"] for r in rows]
    lines = [
        f"Workload: {n_samples:,} x {N_FEATURES} float32 samples, {N_ANCHORS:,} "
        f"anchors. Bare `X @ A.T` (measured next to every row): "
        f"{min(floors):.3f} to {max(floors):.3f} s. Machine: {description}.",
        "",
        HEADER,
        *[format_row(r) for r in rows],
    ]
    return "\n".join(lines)


def write_readme(text, label):
    """Replace the results section of `label` in benchmarks/README.md."""
    content = README.read_text()
    begin, end = f"{BEGIN[:-4]} {label} -->", f"{END[:-4]} {label} -->"
    section = f"{begin}\n{text}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(content):
        content = pattern.sub(lambda _: section, content)
    else:
        content = content.rstrip("\n") + f"\n\n{section}\n"
    README.write_text(content)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="W/10 instead of W")
    parser.add_argument("--n-samples", type=int, help="override the sample count")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--slow-repeats",
        type=int,
        default=1,
        help="repeats of SciPy and of PyTorch L1/L-inf (tens of seconds each)",
    )
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument(
        "--alone",
        nargs="+",
        choices=list(SIMILARITIES),
        help="time only these similarities against the floor, in a process that "
        "runs nothing else (no baselines, product, fits or memory pass)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="n_jobs of our transforms, set through joblib.parallel_config "
        "(default -1: a chunk worker per CPU)",
    )
    parser.add_argument("--memory-pass", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with parallel_config(n_jobs=args.n_jobs):
        run(args)


def run(args):
    n_samples = args.n_samples or (10_000 if args.quick else 100_000)
    if args.memory_pass:
        print(json.dumps(memory_pass(n_samples)))
        return
    if args.alone:
        alone_pass(n_samples, args.repeats, args.alone)
        return
    description = machine() + f" Our transforms: n_jobs={args.n_jobs}."
    print(description)
    print(HEADER)
    rows = timing_pass(n_samples, args.repeats, args.slow_repeats)
    # Memory in a process of its own: see release_freed_memory.
    command = [sys.executable, __file__, "--memory-pass", "--n-samples", str(n_samples)]
    command += ["--n-jobs", str(args.n_jobs)]
    memory = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    for entry in rows:
        entry["memory"] = memory["peaks"][entry["task"]]
    text = table(rows, n_samples, description)
    text += (
        "\n\nPeak memory of `InvariantProductTransformer.transform` (4 blocks) "
        "beyond its output array:\n\n" + memory["scaling"]
    )
    print()
    print(text)
    if args.write_readme:
        write_readme(text, "quick" if args.quick else "full")


if __name__ == "__main__":
    main()

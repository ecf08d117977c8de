"""Out-of-core ``transform`` with Dask: from an on-disk Zarr store to another.

The script writes a synthetic float32 input of ``n_samples x 768`` (default
2,000,000 rows, about 6 GB) to a chunked Zarr store, generated block by block
so that memory stays bounded, and fits a ``RelativeTransformer`` on a small
in-memory sample of it. On a ``distributed.LocalCluster`` it then transforms
``da.from_zarr(input)`` and writes the result to an output Zarr store with
``da.to_zarr``: the data never sit in memory as a whole, only a few chunks per
worker at a time. It reports the wall time of the transform and write, the
throughput, and each worker's peak resident memory next to the size of one
chunk, then checks a random sample of output rows against an in-memory
``transform`` of the same input rows.

Usage::

    python benchmarks/dask_out_of_core.py --n-samples 100000   # under a minute
    python benchmarks/dask_out_of_core.py                      # 2,000,000 rows
    python benchmarks/dask_out_of_core.py --workdir /data/relreps --keep

With ``--keep`` the stores stay in ``--workdir``, and a later run with the same
size, chunking and seed reuses the input store instead of writing it again.

Peak memory per worker is the peak resident set size of the worker process
(Linux ``VmHWM``), reset on every worker just before the transform starts, so
it counts every allocation of the run (NumPy, the compiled kernels, Zarr, the
Dask worker itself). The baseline is the worker's resident size at that moment,
after a warm-up transform of a few rows that imports and compiles everything.
The stores are uncompressed: random floats hardly compress, and compression
would make the benchmark measure the codec rather than the transform.
"""

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import zarr
from distributed import Client, LocalCluster

from sklearn_relreps import RelativeTransformer

N_FEATURES, N_CENTRES = 768, 100


# -- data ---------------------------------------------------------------------


def _centres(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N_CENTRES, N_FEATURES), dtype=np.float32)


def _make_block(seed, block_info=None):
    """One row block of clustered embeddings, from its own seed."""
    (start, stop), _ = block_info[None]["array-location"]
    (index, _) = block_info[None]["chunk-location"]
    rng = np.random.default_rng([seed, index])
    X = _centres(seed)[rng.integers(0, N_CENTRES, stop - start)]
    X += 0.7 * rng.standard_normal(X.shape, dtype=np.float32)
    return X


def write_input(path, n_samples, chunk_rows, seed):
    """Write the synthetic input to a Zarr store at `path`, or reuse it."""
    if path.exists():
        stored = zarr.open_array(path, mode="r")
        if (
            stored.shape == (n_samples, N_FEATURES)
            and stored.chunks == (chunk_rows, N_FEATURES)
            and stored.attrs.get("seed") == seed
        ):
            print(f"reusing the input store {path}")
            return
        shutil.rmtree(path)
    X = da.map_blocks(
        _make_block,
        seed,
        chunks=(da.core.normalize_chunks(chunk_rows, (n_samples,))[0], (N_FEATURES,)),
        dtype=np.float32,
        meta=np.empty((0, N_FEATURES), dtype=np.float32),
    )
    start = time.perf_counter()
    # The local threaded scheduler keeps a couple of blocks in memory at a time.
    with dask.config.set(scheduler="threads"):
        da.to_zarr(X, str(path), compressors=None)
    zarr.open_array(path, mode="r+").attrs["seed"] = seed
    print(f"wrote the input store in {time.perf_counter() - start:.1f} s")


# -- worker memory --------------------------------------------------------------


def _status_mib(field):
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1)) / 1024


def _reset_peak():
    """Reset this process's peak resident size; return its resident size."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def _peak():
    return _status_mib("VmHWM")


# -- benchmark ------------------------------------------------------------------


def run(args, workdir):
    source, target = workdir / "input.zarr", workdir / "output.zarr"
    write_input(source, args.n_samples, args.chunk_rows, args.seed)
    stored = zarr.open_array(source, mode="r")
    X_fit = stored[: args.fit_samples]
    estimator = RelativeTransformer(
        n_anchors=args.n_anchors, similarity=args.similarity, random_state=args.seed
    ).fit(X_fit)

    cluster = LocalCluster(
        n_workers=args.n_workers,
        threads_per_worker=args.threads_per_worker,
        memory_limit=args.memory_limit,
        dashboard_address=None,
    )
    with cluster, Client(cluster) as client:
        # Imports and compiled kernels are loaded once per worker, not per run.
        client.run(estimator.transform, X_fit[:10])
        baseline = client.run(_reset_peak)
        start = time.perf_counter()
        X = da.from_zarr(str(source))
        da.to_zarr(estimator.transform(X), str(target), mode="w", compressors=None)
        elapsed = time.perf_counter() - start
        peaks = client.run(_peak)

    error = check(estimator, stored, zarr.open_array(target, mode="r"), args)
    return elapsed, baseline, peaks, error


def check(estimator, source, result, args):
    """Largest deviation of random output rows from an in-memory transform.

    The rows come from a few random chunks, so the check reads those chunks
    only, not the whole stores.
    """
    rng = np.random.default_rng(args.seed + 1)
    n_chunks = -(-args.n_samples // args.chunk_rows)
    chunks = rng.choice(n_chunks, min(4, n_chunks), replace=False)
    candidates = np.concatenate(
        [
            np.arange(
                c * args.chunk_rows, min((c + 1) * args.chunk_rows, args.n_samples)
            )
            for c in chunks
        ]
    )
    rows = np.sort(rng.choice(candidates, min(args.n_check, candidates.size), False))
    expected = estimator.transform(source.get_orthogonal_selection((rows, slice(None))))
    actual = result.get_orthogonal_selection((rows, slice(None)))
    np.testing.assert_allclose(
        actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max()
    )
    return np.abs(actual - expected).max(), rows.size


def report(args, elapsed, baseline, peaks, error):
    n_out = args.n_anchors
    in_chunk = args.chunk_rows * N_FEATURES * 4 / 2**20
    out_chunk = args.chunk_rows * n_out * 4 / 2**20
    workers = sorted(peaks)
    per_worker = ", ".join(f"{peaks[w]:.0f}" for w in workers)
    rises = ", ".join(f"{peaks[w] - baseline[w]:.0f}" for w in workers)
    max_error, n_checked = error
    rows = [
        (
            "input",
            f"{args.n_samples:,} x {N_FEATURES} float32, "
            f"{args.n_samples * N_FEATURES * 4 / 1e9:.2f} GB (Zarr, uncompressed)",
        ),
        (
            "output",
            f"{args.n_samples:,} x {n_out} float32, "
            f"{args.n_samples * n_out * 4 / 1e9:.2f} GB (Zarr, uncompressed)",
        ),
        (
            "estimator",
            f"RelativeTransformer(similarity={args.similarity!r}, "
            f"n_anchors={args.n_anchors}), fitted on {args.fit_samples:,} rows",
        ),
        (
            "cluster",
            f"LocalCluster, {args.n_workers} workers x "
            f"{args.threads_per_worker} thread(s), memory_limit={args.memory_limit}",
        ),
        (
            "chunk",
            f"{args.chunk_rows:,} rows: {in_chunk:.0f} MiB in, {out_chunk:.0f} MiB out",
        ),
        ("transform + write", f"{elapsed:.1f} s"),
        ("throughput", f"{args.n_samples / elapsed:,.0f} rows/s"),
        ("worker peak RSS (MiB)", per_worker),
        ("worker peak over baseline (MiB)", rises),
        ("check", f"{n_checked:,} random rows, max abs deviation {max_error:.1e}"),
    ]
    lines = ["| quantity | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    print("\n".join(lines))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=2_000_000)
    parser.add_argument("--n-anchors", type=int, default=1000)
    parser.add_argument("--similarity", default="cosine")
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=20_000,
        help="rows per chunk, on disk and in Dask (default 20,000)",
    )
    parser.add_argument(
        "--fit-samples",
        type=int,
        default=20_000,
        help="rows of the input the estimator is fitted on",
    )
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument(
        "--memory-limit",
        default="2GiB",
        help="memory limit of each worker (default 2GiB)",
    )
    parser.add_argument(
        "--n-check",
        type=int,
        default=1000,
        help="output rows checked against an in-memory transform",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where the stores go (default: a temporary directory)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the stores (and the temporary directory)",
    )
    return parser.parse_args()


def main():
    args = parse_args()
    if args.workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="relreps-dask-"))
    else:
        workdir = args.workdir
        workdir.mkdir(parents=True, exist_ok=True)
    try:
        report(args, *run(args, workdir))
    finally:
        if args.keep:
            print(f"stores kept in {workdir}")
        elif args.workdir is None:
            shutil.rmtree(workdir)
        else:
            for name in ("input.zarr", "output.zarr"):
                shutil.rmtree(workdir / name, ignore_errors=True)


if __name__ == "__main__":
    main()

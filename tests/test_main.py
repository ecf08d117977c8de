import doctest
import subprocess
import sys
from itertools import permutations

import numpy as np
import pandas as pd
import pytest

from sklearn_relreps.__main__ import METHODS, main


def run_demo(digits_home, output_dir, *extra):
    main(
        [
            "--n-anchors",
            "40",
            "--data-home",
            str(digits_home),
            "--output-dir",
            str(output_dir),
            *extra,
        ]
    )


def test_demo_table_csv_and_figure(digits_encoders, digits_home, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_demo(digits_home, tmp_path)
    out, err = capsys.readouterr()

    names = list(digits_encoders.encoders)
    pairs = list(permutations(names, 2))
    for source, target in pairs:
        assert f"{source} -> {target}" in out
    assert "relative / non-stitched:" in out
    assert "[4/4] encoder mlp128_3: loading from cache" in err
    assert "fitting the absolute, relative and product models on mlp64_0" in err
    assert (tmp_path / "stitching_accuracy.png").stat().st_size > 0

    results = pd.read_csv(tmp_path / "stitching_accuracy.csv", index_col=[0, 1])
    assert list(results.columns) == list(METHODS)
    assert list(results.index) == pairs
    widths = {name: encoder.width for name, encoder in digits_encoders.encoders.items()}
    equal = np.array([widths[a] == widths[b] for a, b in pairs])
    assert np.array_equal(results["absolute"].notna().to_numpy(), equal)
    values = results.to_numpy()
    assert np.all((values[~np.isnan(values)] >= 0) & (values[~np.isnan(values)] <= 1))
    # Non-stitched accuracy depends on the target only.
    assert results.groupby(level="target")["non-stitched"].nunique().eq(1).all()
    # The quality targets, even with 40 anchors.
    means = results.mean()
    assert means["relative"] >= 0.95 * means["non-stitched"]
    assert means["absolute"] < 0.35
    assert means["translation"] > 0.8 and means["product"] > 0.8


def test_no_figure(digits_encoders, digits_home, tmp_path, capsys):
    run_demo(digits_home, tmp_path, "--widths", "64", "64", "--no-figure")
    assert "mlp64_1 -> mlp64_0" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stitching_accuracy.csv"]


def test_bad_n_anchors(capsys):
    with pytest.raises(SystemExit):
        main(["--n-anchors", "0"])
    assert "--n-anchors must be at least 1; got 0" in capsys.readouterr().err


def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_relreps", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--output-dir" in result.stdout and "--no-figure" in result.stdout


def test_docstring_example():
    # pytest's --doctest-modules skips __main__.py: run its examples here.
    import sklearn_relreps.__main__ as demo

    results = doctest.testmod(demo, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0

"""The README's quick start runs as written and shows stitching working."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_the_two_setup_commands():
    bash = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    assert "python -m sklearn_relreps" in bash[0]
    assert "python -m pytest" in bash[1]


def test_quick_start_runs_and_stitches(
    digits_encoders, digits_home, monkeypatch, capsys
):
    # The loader caches under SCIKIT_LEARN_DATA: keep it in the session's cache.
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(digits_home))
    exec(compile(_python_blocks()[0], str(README), "exec"), {})
    scores = [float(v) for v in re.findall(r": (\d\.\d+)", capsys.readouterr().out)]
    native, stitched = scores
    assert native > 0.9
    assert stitched > 0.9 * native

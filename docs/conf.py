"""Sphinx configuration of the sklearn-relreps documentation.

Build with ``bash docs/build.sh`` (offline, warnings as errors). Setting
``RELREPS_DOCS_OFFLINE=1`` switches off intersphinx, which needs the network
to fetch the other projects' inventories; references into those projects are
then left unchecked instead of failing the build.
"""

import os
import re
from pathlib import Path

from sphinx.util import logging

import sklearn_relreps
from sklearn_relreps._invariances import TRANSFORMATIONS

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
OFFLINE = os.environ.get("RELREPS_DOCS_OFFLINE", "0") == "1"

project = "sklearn-relreps"
author = "sklearn-relreps developers"
copyright = "sklearn-relreps developers"
release = sklearn_relreps.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

exclude_patterns = ["_build", "sg_execution_times.rst"]
templates_path = ["_templates"]
root_doc = "index"
default_role = "literal"

# Every reference must resolve, ours included.
nitpicky = True

# -- cross-links to other projects --------------------------------------------

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "dask": ("https://docs.dask.org/en/stable", None),
    "joblib": ("https://joblib.readthedocs.io/en/stable", None),
}
if OFFLINE:
    # No inventories can be fetched: references into the other projects stay
    # unresolved (rendered as plain text) instead of failing the build; the
    # package's own references are still checked.
    nitpick_ignore_regex = [
        (r"py:.*", rf"({'|'.join(intersphinx_mapping)})(\..*)?"),
        # Python's own objects, which the "python" inventory resolves online.
        (r"py:.*", r"(int|float|str|bool|dict|list|tuple|object|callable)"),
    ]
    intersphinx_mapping = {}
else:
    extensions.append("sphinx.ext.intersphinx")

# -- API reference ------------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Docstring checks that hold for every public object of the package.
numpydoc_validation_checks = {"GL06", "GL07", "PR01", "PR02", "PR03", "PR10"}

# -- executable code ----------------------------------------------------------

doctest_global_setup = "import numpy as np"
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.dpi": 110}

EXAMPLES = HERE.parent / "examples"
HAS_GALLERY = (EXAMPLES / "README.txt").exists()
sphinx_gallery_conf = {
    "examples_dirs": [str(EXAMPLES)] if HAS_GALLERY else [],
    "gallery_dirs": ["auto_examples"] if HAS_GALLERY else [],
    "filename_pattern": r"/plot_",
    "doc_module": ("sklearn_relreps",),
    "backreferences_dir": "gen_modules/backreferences",
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 10,
    "image_scrapers": ("matplotlib",),
}

# -- HTML ---------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-relreps {release}"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": []}
html_show_sourcelink = False

# -- generated pages ------------------------------------------------------------

GENERATED = HERE / "_generated"
# Column symbols, in the registry's order of transformations.
TRANSFORMS = tuple(
    zip(TRANSFORMATIONS, ("O", "S", "t", "P", "±", "D", "L"), strict=True)
)
# (label, similarity or similarities, keyword options), one table row each.
INVARIANCE_ROWS = (
    ("cosine", "cosine", {}),
    ("cosine, ``center=True``", "cosine", {"center": True}),
    ("dot", "dot", {}),
    ("dot, ``center=True``", "dot", {"center": True}),
    ("euclidean", "euclidean", {}),
    ("rbf", "rbf", {}),
    ("l1", "l1", {}),
    ("linf", "linf", {}),
    ("dot, ``output_norm='l2'``", "dot", {"output_norm": "l2"}),
    ("euclidean, ``output_norm='standard'``", "euclidean", {"output_norm": "standard"}),
    ("l1, ``output_norm='standard'``", "l1", {"output_norm": "standard"}),
    ("rbf, ``output_norm='standard'``", "rbf", {"output_norm": "standard"}),
    ("cosine, ``standardize=True``", "cosine", {"standardize": True}),
    (
        "cosine, ``center=True, standardize=True``",
        "cosine",
        {"center": True, "standardize": True},
    ),
    ("euclidean, ``standardize=True``", "euclidean", {"standardize": True}),
    (
        "product (cosine, euclidean, l1, linf), ``output_norm='standard'``",
        ("cosine", "euclidean", "l1", "linf"),
        {"output_norm": "standard"},
    ),
    (
        "product, ``center=True, output_norm='standard'``",
        ("cosine", "euclidean", "l1", "linf"),
        {"center": True, "output_norm": "standard"},
    ),
)


def write_invariance_table():
    """Write the invariance table, computed by ``get_invariances``."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :class: invariance-table",
        "",
        "   * - projection",
        *[f"     - {symbol}" for _, symbol in TRANSFORMS],
    ]
    for label, similarity, options in INVARIANCE_ROWS:
        held = sklearn_relreps.get_invariances(similarity, **options)
        lines.append(f"   * - {label}")
        lines += [f"     - {'✓' if name in held else '✗'}" for name, _ in TRANSFORMS]
    GENERATED.mkdir(exist_ok=True)
    (GENERATED / "invariance_table.inc").write_text("\n".join(lines) + "\n")


def public_names():
    """Qualified public names (relative to ``sklearn_relreps``) from ``__all__``."""
    names = set()
    modules = {"": sklearn_relreps}
    for name in sklearn_relreps.__all__:
        obj = getattr(sklearn_relreps, name)
        if hasattr(obj, "__all__") and name not in modules:
            modules[name] = obj
    for prefix, module in modules.items():
        for name in module.__all__:
            if name.startswith("__") or name in modules:
                continue
            names.add(f"{prefix}.{name}" if prefix else name)
    return names


def check_api_reference(app):
    """Warn (an error under ``-W``) when api.rst and ``__all__`` disagree."""
    text = (HERE / "api.rst").read_text()
    listed = set()
    for block in re.findall(r"\.\. autosummary::\n((?:\n|   .*\n)+)", text):
        listed |= {
            line.strip()
            for line in block.splitlines()
            if line.strip() and not line.strip().startswith(":")
        }
    expected = public_names()
    for name in sorted(expected - listed):
        logger.warning("public name %r is missing from docs/api.rst", name)
    for name in sorted(listed - expected):
        logger.warning("docs/api.rst lists %r, which is not public", name)


def check_gallery(app):
    """Warn when the examples folder cannot form a gallery."""
    if not HAS_GALLERY:
        logger.warning("examples/README.txt is missing: the gallery has no index")


TYPE_LINE = re.compile(r"^(\s*\*\*[^*]+\*\* : )(.*)$")
TRAILING_UNDERSCORE = re.compile(r"(\w)_(?=[\s,)]|$)")


def escape_attribute_names_in_types(app, what, name, obj, options, lines):
    """Escape names like ``n_features_in_`` in numpydoc's rendered types.

    Types such as ``ndarray of shape (n_features_in_,)`` are rendered as plain
    reST, where a word ending in ``_`` is a hyperlink reference.
    """
    for i, line in enumerate(lines):
        match = TYPE_LINE.match(line)
        if match:
            head, kind = match.groups()
            lines[i] = head + TRAILING_UNDERSCORE.sub(r"\1\\_", kind)


def setup(app):
    """Generate the included pages and check the API reference."""
    write_invariance_table()
    # After numpydoc (priority 500) has turned sections into reST.
    app.connect("autodoc-process-docstring", escape_attribute_names_in_types, 600)
    app.connect("builder-inited", check_api_reference)
    app.connect("builder-inited", check_gallery)

#!/usr/bin/env bash
# Build the documentation offline with warnings as errors, then run the doctests
# of the user guide and the API reference. Usage: bash docs/build.sh
# Needs the package with its docs and test extras: pip install ".[docs,test]".
# Output: docs/_build/html/index.html. Any warning, broken reference, failing
# gallery example or failing doctest makes the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")"

export RELREPS_DOCS_OFFLINE="${RELREPS_DOCS_OFFLINE:-1}"
export MPLBACKEND=Agg
# Read at scipy's import: lets the scaling guide run on an array-API namespace.
export SCIPY_ARRAY_API=1

rm -rf _generated generated
start=$SECONDS
python -m sphinx -W --keep-going -b html -d _build/doctrees . _build/html
python -m sphinx -W --keep-going -b doctest -d _build/doctrees . _build/doctest
echo "docs built in $((SECONDS - start)) s: $(pwd)/_build/html/index.html"

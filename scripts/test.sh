#!/usr/bin/env bash
# The one command that runs every test: formatting, lints, the dependency-direction check, the
# Rust tests, and the Python end-to-end suite against the debug `hepq` binary and the `hepq`
# Python module (assembled from the same workspace build by scripts/python-dev.py).
# README and CI (.ci/run) call exactly this. Run it from anywhere.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in
    /*) ;;
    *) TARGET_DIR="$ROOT/$TARGET_DIR" ;;
esac
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/tests/requirements.txt"

step() {
    printf '\n==> %s\n' "$*"
}

step "Python test environment (.venv from tests/requirements.txt)"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
want_hash="$("$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$REQUIREMENTS")"
have_hash="$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)"
if [ "$want_hash" != "$have_hash" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want_hash" > "$VENV/.requirements.sha256"
else
    echo "requirements unchanged; skipping pip"
fi

# pyo3 (the Python module, python/) builds for the test environment's interpreter.
export PYO3_PYTHON="$VENV/bin/python"

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "dependency directions (scripts/check-deps.py)"
"$VENV/bin/python" scripts/check-deps.py

# Always build with --workspace: `-p CRATE` unifies dependency features differently and
# would compile DataFusion a second time.
step "cargo test --workspace"
cargo test --workspace

step "cargo build --workspace --lib --bins --examples (hepq, root_dump, rntuple_dump, lh5_dump and the Python module for the Python suite)"
cargo build --workspace --lib --bins --examples

step "Python module hepq (scripts/python-dev.py: python/hepq/ + the built extension module)"
# Not `maturin develop`: maturin builds the crate alone, which resolves other features for a few
# shared dependencies and would compile DataFusion a second time.
"$VENV/bin/python" scripts/python-dev.py "$TARGET_DIR/debug/lib_hepq.so" "$TARGET_DIR/python-dev"

step "pytest tests/python"
HEPQ_BIN="$TARGET_DIR/debug/hepq" HEPQ_ROOT_DUMP="$TARGET_DIR/debug/examples/root_dump" \
    HEPQ_ROOT_WRITE="$TARGET_DIR/debug/examples/root_write" \
    HEPQ_RNTUPLE_DUMP="$TARGET_DIR/debug/examples/rntuple_dump" \
    HEPQ_LH5_DUMP="$TARGET_DIR/debug/examples/lh5_dump" \
    PYTHONPATH="$TARGET_DIR/python-dev${PYTHONPATH:+:$PYTHONPATH}" \
    "$VENV/bin/python" -m pytest -q tests/python

step "all tests passed"

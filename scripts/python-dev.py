#!/usr/bin/env python3
"""Assembles the `hepq` Python package from a workspace build, for the test suite.

`cargo build --workspace` builds the extension module (`lib_hepq.so`, crate python/) with the
workspace's unified features, reusing the DataFusion it built for everything else. `maturin
develop` would build the crate alone, with other features for a few shared dependencies, and so
compile DataFusion a second time. This script instead copies python/hepq/ and the built library
(named as this interpreter imports extension modules) into DEST/hepq/; put DEST on PYTHONPATH.

Usage: python scripts/python-dev.py TARGET_DIR/debug/lib_hepq.so DEST
Standard library only.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "hepq"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    library, dest = Path(sys.argv[1]), Path(sys.argv[2])
    if not library.is_file():
        print(f"python-dev: {library} not found; run `cargo build --workspace` first", file=sys.stderr)
        return 1
    package = dest / "hepq"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    for source in sorted(PACKAGE.iterdir()):
        if source.suffix in (".py", ".pyi") or source.name == "py.typed":
            shutil.copy2(source, package / source.name)
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    shutil.copy2(library, package / f"_hepq{suffix}")
    print(f"python-dev: hepq assembled in {package} (from {library})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

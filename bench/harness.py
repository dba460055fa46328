"""What the Python benchmark scripts share: dataset labels, the machine description and the
release build of the `hepq` module. Standard library only (peers are imported where used)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def label(n: int) -> str:
    """`1M`, `100k`: how dataset files and folders are named by event count."""
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def hepq_module():
    """The `hepq` Python module of the release build (assembled by scripts/python-dev.py into
    target/python-release/), or None when `cargo build --release --workspace --lib` has not
    built it."""
    library = TARGET / "release" / "lib_hepq.so"
    if not library.is_file():
        return None
    dest = TARGET / "python-release"
    subprocess.run([sys.executable, str(REPO / "scripts" / "python-dev.py"), str(library),
                    str(dest)], check=True, stdout=subprocess.DEVNULL)
    sys.path.insert(0, str(dest))
    import hepq

    return hepq


def machine(**versions: str) -> dict:
    """The CPU, cores, Python and system, plus the peers' `versions` given by the caller."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            **versions, "system": platform.platform()}

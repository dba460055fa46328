#!/usr/bin/env python3
"""Dependency-direction check: ARCHITECTURE.md's layout table, enforced.

Reads the root Cargo.toml's `[workspace] members`, then each member's manifest, and checks
every dependency on a workspace crate (a name starting with `hepq-`) against the table below,
in all dependency kinds: [dependencies], [dev-dependencies], [build-dependencies] and their
`[target.'cfg(...)'.*]` variants. The decoder crates must also stay free of DataFusion and
tokio, so that they can be fuzzed and benchmarked alone.

Standard library only (Python 3.11+ for tomllib). Exit status 1 on any violation.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ARCHITECTURE.md "Layout": the workspace crates each crate may depend on.
# `None` means "anything" (end-to-end tests and benchmarks).
ALLOWED: dict[str, set[str] | None] = {
    "hepq-root": set(),
    "hepq-rntuple": {"hepq-root"},
    "hepq-lh5": set(),
    "hepq-connectors": {"hepq-root", "hepq-rntuple", "hepq-lh5"},
    "hepq-udfs": set(),
    "hepq-catalog": set(),
    "hepq-sql": {"hepq-connectors", "hepq-udfs", "hepq-catalog"},
    "hepq-server": {"hepq-sql"},
    "hepq-python": {"hepq-sql"},
    "hepq-tests": None,
    "hepq-bench": None,
}

# Decoders turn bytes into Arrow and know nothing of the engine or of async runtimes.
DECODERS = {"hepq-root", "hepq-rntuple", "hepq-lh5"}

DEP_TABLES = ("dependencies", "dev-dependencies", "build-dependencies")


def forbidden_for_decoder(dep: str) -> bool:
    """Whether a decoder crate may not depend on `dep` (a crates.io package name)."""
    return dep == "tokio" or dep.startswith("tokio-") or dep.startswith("datafusion")


def dependency_names(table: dict) -> list[str]:
    """Package names in one dependency table; `package = "..."` renames are resolved."""
    names = []
    for key, spec in table.items():
        if isinstance(spec, dict) and isinstance(spec.get("package"), str):
            names.append(spec["package"])
        else:
            names.append(key)
    return names


def all_dependencies(manifest: dict) -> list[tuple[str, str]]:
    """(kind, package name) for every dependency of a member manifest, target-specific included."""
    deps = []
    for kind in DEP_TABLES:
        for name in dependency_names(manifest.get(kind, {})):
            deps.append((kind, name))
    for cfg, target in manifest.get("target", {}).items():
        for kind in DEP_TABLES:
            for name in dependency_names(target.get(kind, {})):
                deps.append((f"target.'{cfg}'.{kind}", name))
    return deps


def load(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        sys.exit(f"check-deps: {path.relative_to(ROOT)} is missing")
    except tomllib.TOMLDecodeError as e:
        sys.exit(f"check-deps: {path.relative_to(ROOT)} is not valid TOML: {e}")


def main() -> int:
    root = load(ROOT / "Cargo.toml")
    members = root.get("workspace", {}).get("members", [])
    if not members:
        print("check-deps: no [workspace] members in Cargo.toml", file=sys.stderr)
        return 1

    # The workspace's own package names (a renamed or new crate must be added to ALLOWED).
    manifests: dict[str, tuple[str, dict]] = {}
    problems: list[str] = []
    for member in members:
        # Members may be globs in Cargo; expand them the same way.
        paths = sorted(ROOT.glob(member)) if any(c in member for c in "*?[") else [ROOT / member]
        for path in paths:
            manifest_path = path / "Cargo.toml"
            manifest = load(manifest_path)
            name = manifest.get("package", {}).get("name")
            if not isinstance(name, str):
                problems.append(f"{manifest_path.relative_to(ROOT)} has no [package] name")
                continue
            manifests[name] = (str(manifest_path.relative_to(ROOT)), manifest)

    for name, (path, manifest) in sorted(manifests.items()):
        if name not in ALLOWED:
            problems.append(
                f"{name} ({path}) is not in the dependency table of scripts/check-deps.py; "
                "add it there and to ARCHITECTURE.md's layout table"
            )
            continue
        allowed = ALLOWED[name]
        for kind, dep in all_dependencies(manifest):
            if dep.startswith("hepq-") and allowed is not None and dep not in allowed:
                may = ", ".join(sorted(allowed)) or "no workspace crate"
                problems.append(
                    f"{name} -> {dep} ([{kind}] in {path}) is not allowed: {name} may depend on {may}"
                )
            if name in DECODERS and forbidden_for_decoder(dep):
                problems.append(
                    f"{name} -> {dep} ([{kind}] in {path}) is not allowed: decoder crates must not "
                    "depend on DataFusion or tokio"
                )

    if problems:
        print("dependency direction check failed:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        print("see ARCHITECTURE.md, 'Layout'", file=sys.stderr)
        return 1
    print(f"dependency directions OK ({len(manifests)} crates)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

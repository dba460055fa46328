"""LH5 tables through SQL (`hepq sql --format json`) against legend-lh5io.

Every table of every LH5 file in ../shared/testdata/legend-testdata is read through SQL — a
LEGEND tier file as one `STORED AS LH5 OPTIONS ('tier' …)` table over all its channels, any
other table with `read_lh5(file, group)` — and each column of each channel is compared, row by
row, with `lh5.read(group, file)`: numbers, booleans, strings, equal-sized arrays, vectors of
vectors, nested tables and waveform tables (encoded ones decoded by legend-lh5io). The JSON
output writes NaN and ±inf as null, so a null equals a non-finite reference value; a column a channel lacks
must be all null. Partition pruning on LEGEND file names is checked on EXPLAIN output, and
a tier uploaded to a local moto S3 server reads as it does from disk.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from conftest import skip_or_fail
from test_lh5_lh5io import TESTDATA, dump, lh5_dump, lh5_files, py, reference


def ref_column(obj, lgdo):
    """An LGDO column as a list of row values (numpy scalars for numbers)."""
    t = lgdo.types
    if isinstance(obj, t.VectorOfVectors):
        flat = ref_column(obj.flattened_data, lgdo)
        out, start = [], 0
        for c in obj.cumulative_length.nda:
            out.append(flat[start : int(c)])
            start = int(c)
        return out
    if isinstance(obj, (t.Table, t.Struct)):
        cols = {k: ref_column(v, lgdo) for k, v in obj.items()}
        n = len(next(iter(cols.values()))) if cols else 0
        return [{k: c[i] for k, c in cols.items()} for i in range(n)]
    nda = obj.nda
    if nda.dtype.kind == "S":
        return [x.decode() for x in nda.tolist()]
    return list(nda)


def same(ours, ref) -> bool:
    if isinstance(ref, dict):
        return isinstance(ours, dict) and all(same(ours.get(k), v) for k, v in ref.items())
    if isinstance(ref, (list, np.ndarray)) and not isinstance(ref, np.generic):
        return (
            isinstance(ours, list)
            and len(ours) == len(ref)
            and all(same(a, b) for a, b in zip(ours, ref))
        )
    if isinstance(ref, (bool, np.bool_)):
        return ours is not None and bool(ours) == bool(ref)
    if isinstance(ref, np.floating):
        if ours is None:
            return not bool(np.isfinite(ref))  # JSON writes NaN and ±inf as null
        return ref.dtype.type(ours) == ref or (math.isnan(float(ours)) and np.isnan(ref))
    if isinstance(ref, np.integer):
        return ours is not None and int(ours) == int(ref)
    return py(ours) == py(ref)


def queries(path: Path, tables: list[dict]) -> list[tuple[str, list[tuple[str, int | None]]]]:
    """(SQL, [(group, channel)]) covering every table of the file, in output order."""
    tier = path.name.rsplit("-tier_", 1)[-1].removesuffix(".lh5") if "-tier_" in path.name else None
    by_tier, single = [], []
    for t in tables:
        name = t["table"]
        parent, _, last = name.rpartition("/")
        if tier and last == tier and parent.startswith("ch") and "/" not in parent:
            by_tier.append((name, int(parent[2:])))
        else:
            single.append(name)
    out = []
    if by_tier:
        out.append(
            (
                f"CREATE EXTERNAL TABLE t STORED AS LH5 LOCATION '{path}' OPTIONS ('tier' '{tier}'); "
                "SELECT * FROM t",
                by_tier,
            )
        )
    for name in single:
        out.append((f"SELECT * FROM read_lh5('{path}', '{name}')", [(name, None)]))
    return out


def test_every_table_through_sql_matches_legend_lh5io(hepq, capsys):
    lh5, lgdo = reference()
    binary = lh5_dump()
    results: Counter = Counter()
    wrong: list[str] = []
    for path in lh5_files():
        tables = dump(binary, ["--tables", str(path)])
        for sql, groups in queries(path, tables):
            rows = hepq.sql(sql)
            channel_col = None
            if groups[0][1] is not None and rows:
                channel_col = "rawid" if "rawid" in rows[0] else "channel"
            # Tables of one file may be read by several partitions: group rows by channel
            # (each table keeps its row order).
            by_channel: dict = {}
            for r in rows:
                by_channel.setdefault(r[channel_col] if channel_col else None, []).append(r)
            start = 0
            for group, channel in groups:
                ref = lh5.read(group, str(path))
                n = len(ref)
                mine = by_channel.get(channel, [])
                start += n
                where = f"{path.relative_to(TESTDATA)}:{group}"
                if len(mine) != n:
                    wrong.append(f"{where}: {len(mine)} rows, reference {n}")
                    continue
                for col, obj in ref.items():
                    if not mine:
                        break
                    if col not in mine[0]:
                        results["unsupported"] += 1
                        continue
                    expected = ref_column(obj, lgdo)
                    got = [r[col] for r in mine]
                    bad = next((i for i, (a, b) in enumerate(zip(got, expected)) if not same(a, b)), None)
                    if bad is None:
                        results["equal"] += 1
                    else:
                        results["wrong"] += 1
                        wrong.append(f"{where}/{col} row {bad}: hepq {str(got[bad])[:100]} reference {str(expected[bad])[:100]}")
                # columns of other channels read NULL here
                for col in mine[0] if mine else []:
                    if col not in ref and col != channel_col and col not in (
                        "period", "run", "datatype", "timestamp", "file_timestamp", "file_datatype",
                        "file_run", "file_period",
                    ):
                        if any(r[col] is not None for r in mine):
                            wrong.append(f"{where}: column {col} absent in the file but not NULL")
            if start != len(rows):
                wrong.append(f"{path.name}: {len(rows)} rows through SQL, reference {start}")
    with capsys.disabled():
        print(f"\nLH5 through SQL: columns equal {results['equal']}, wrong {results['wrong']}, "
              f"not read {results['unsupported']}")
    assert results["equal"] > 4000
    assert not wrong, f"{len(wrong)} differences:\n" + "\n".join(wrong[:60])


def test_partition_filters_prune_files(hepq):
    hit = TESTDATA / "prod-ref-l200" / "generated" / "tier" / "hit"
    if not hit.exists():
        skip_or_fail(f"missing test data {hit}")
    create = f"CREATE EXTERNAL TABLE hit STORED AS LH5 LOCATION '{hit}/' OPTIONS ('tier' 'hit'); "
    plan = hepq.sql_run(
        create + "EXPLAIN SELECT count(*) FROM hit WHERE datatype = 'cal' AND file_timestamp < '20230318T012200Z'",
        fmt="csv",
    ).stdout
    scanned = plan.count("-tier_hit.lh5")
    assert scanned == 1 and "20230318T012144Z" in plan, plan
    everything = hepq.sql_run(create + "EXPLAIN SELECT sum(trapTmax_cal) FROM hit", fmt="csv").stdout
    assert everything.count("-tier_hit.lh5") == 4, everything
    rows = hepq.sql(create + "SELECT count(*) AS n FROM hit WHERE datatype = 'cal' AND file_timestamp < '20230318T012200Z'")
    assert rows == [{"n": 30}]


def test_lh5_tier_over_s3_matches_local(hepq, tmp_path):
    """The hit tier uploaded to a local moto S3 server reads as it does from disk."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    import pytest

    boto3 = pytest.importorskip("boto3")
    try:
        import moto.server  # noqa: F401
    except ImportError as e:
        skip_or_fail(f"moto[server] is not installed: {e}")
    hit = TESTDATA / "prod-ref-l200" / "generated" / "tier" / "hit"
    if not hit.exists():
        skip_or_fail(f"missing test data {hit}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "moto did not start"
                time.sleep(0.2)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="y")
        s3.create_bucket(Bucket="legend")
        for f in sorted(hit.rglob("*.lh5")):
            s3.upload_file(str(f), "legend", f"tier/hit/{f.relative_to(hit).as_posix()}")
        query = ("SELECT channel, datatype, count(*) AS n, round(sum(cuspEmax_ctc_cal), 6) AS e FROM t "
                 "GROUP BY 1, 2 ORDER BY 1, 2")
        local = hepq.sql(
            f"CREATE EXTERNAL TABLE t STORED AS LH5 LOCATION '{hit}/' OPTIONS ('tier' 'hit'); " + query
        )
        remote = hepq.sql(
            "CREATE EXTERNAL TABLE t STORED AS LH5 LOCATION 's3://legend/tier/hit/' OPTIONS ("
            f"'tier' 'hit', 'aws.endpoint' '{endpoint}', 'aws.region' 'us-east-1', "
            "'aws.access_key_id' 'x', 'aws.secret_access_key' 'y', 'aws.allow_http' 'true'); " + query
        )
        assert remote == local and sum(r["n"] for r in local) == 180
    finally:
        proc.terminate()
        proc.wait(timeout=10)

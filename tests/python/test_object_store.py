"""Remote tables: S3 through a local moto server, and one Parquet file over plain HTTP.

Both servers listen on 127.0.0.1 on a free port and are stopped when the module's tests end.
Counts per run from hepq are compared with pyarrow over the local copy of the same files.
"""

from __future__ import annotations

import email.utils
import http.server
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from conftest import skip_or_fail

BUCKET = "hepq-test"
PREFIX = "lhc"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_counts(lhc_dir: Path) -> dict[int, int]:
    """Rows per run of the local dataset, read by pyarrow with Hive partitioning."""
    ds = pytest.importorskip("pyarrow.dataset")
    table = ds.dataset(lhc_dir, format="parquet", partitioning="hive").to_table(columns=["run"])
    return dict(Counter(int(r) for r in table.column("run").to_pylist()))


# ------------------------------------------------------------------------------ S3 (moto)


@pytest.fixture(scope="module")
def s3_endpoint(lhc_dir):
    """A moto S3 server with the LHC dataset uploaded under s3://hepq-test/lhc/."""
    boto3 = pytest.importorskip("boto3")
    try:
        import moto.server  # noqa: F401  (only checks that moto[server] is installed)
    except ImportError as e:
        skip_or_fail(f"moto[server] is not installed: {e}")

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"moto server exited with {proc.returncode}: {proc.stderr.read()}")
                if time.monotonic() > deadline:
                    pytest.fail("moto server did not start within 60 s")
                time.sleep(0.2)

        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="y",
        )
        s3.create_bucket(Bucket=BUCKET)
        files = sorted(lhc_dir.rglob("*.parquet"))
        for f in files:
            s3.upload_file(str(f), BUCKET, f"{PREFIX}/{f.relative_to(lhc_dir).as_posix()}")
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")
        assert listed["KeyCount"] == len(files)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


COUNT_BY_RUN = "SELECT run, count(*) AS n FROM {t} GROUP BY run ORDER BY run"


def test_s3_create_external_table_with_options(hepq, s3_endpoint, lhc_dir):
    rows = hepq.sql(
        f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://{BUCKET}/{PREFIX}/' OPTIONS ("
        f"'aws.endpoint' '{s3_endpoint}', 'aws.region' 'us-east-1', "
        "'aws.access_key_id' 'x', 'aws.secret_access_key' 'y', 'aws.allow_http' 'true'); "
        + COUNT_BY_RUN.format(t="t")
    )
    assert {r["run"]: r["n"] for r in rows} == local_counts(lhc_dir)
    assert all(isinstance(r["run"], int) for r in rows), "run is BIGINT over S3 as well"


def test_s3_register_with_environment(hepq, s3_endpoint, lhc_dir):
    env = {
        "AWS_ENDPOINT": s3_endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
    }
    rows = hepq.sql(
        COUNT_BY_RUN.format(t="lhc"), register={"lhc": f"s3://{BUCKET}/{PREFIX}/"}, env=env
    )
    assert {r["run"]: r["n"] for r in rows} == local_counts(lhc_dir)


def test_s3_matches_local_aggregate(hepq, s3_endpoint, tables):
    sql = (
        "SELECT run, count(*) AS n, sum(CAST(nJet AS BIGINT)) AS jets, max(MET_pt) AS met "
        "FROM {t} WHERE HLT_IsoMu24 GROUP BY run ORDER BY run"
    )
    local = hepq.sql(sql.format(t="lhc"), register=tables)
    remote = hepq.sql(
        f"CREATE EXTERNAL TABLE r STORED AS PARQUET LOCATION 's3://{BUCKET}/{PREFIX}/' OPTIONS ("
        f"'aws.endpoint' '{s3_endpoint}', 'aws.region' 'us-east-1', "
        "'aws.access_key_id' 'x', 'aws.secret_access_key' 'y', 'aws.allow_http' 'true'); "
        + sql.format(t="r")
    )
    assert remote == local and local


def test_s3_missing_bucket_is_a_clean_error(hepq, s3_endpoint):
    run = hepq.sql_run(
        "SELECT count(*) FROM m",
        register={"m": "s3://no-such-bucket-here/x/"},
        env={
            "AWS_ENDPOINT": s3_endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
        },
        check=False,
    )
    assert run.returncode == 1, run.describe()
    assert run.stderr.startswith("Error: "), run.describe()
    assert "no-such-bucket-here" in run.stderr, run.describe()


# ------------------------------------------------------------------------------ HTTP


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves files from `directory` with HEAD and single-range GET (206 Partial Content)."""

    directory: Path

    def log_message(self, *args):  # keep test output quiet
        pass

    def _target(self) -> Path | None:
        path = (self.directory / self.path.split("?")[0].lstrip("/")).resolve()
        if self.directory.resolve() not in path.parents or not path.is_file():
            self.send_error(404)
            return None
        return path

    def _headers(self, path: Path, status: int, length: int, extra=()):
        self.send_response(status)
        stat = path.stat()
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        self.send_header("ETag", f'"{stat.st_size:x}-{int(stat.st_mtime):x}"')
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()

    def do_HEAD(self):
        if path := self._target():
            self._headers(path, 200, path.stat().st_size)

    def do_GET(self):
        if not (path := self._target()):
            return
        size = path.stat().st_size
        spec = self.headers.get("Range")
        if not spec:
            self._headers(path, 200, size)
            self.wfile.write(path.read_bytes())
            return
        start_s, _, end_s = spec.removeprefix("bytes=").partition("-")
        if start_s == "":  # suffix range: the last N bytes
            start, end = max(0, size - int(end_s)), size - 1
        else:
            start, end = int(start_s), min(int(end_s) if end_s else size - 1, size - 1)
        if start > end or start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        with path.open("rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        self._headers(path, 206, len(body), [("Content-Range", f"bytes {start}-{end}/{size}")])
        self.wfile.write(body)


@pytest.fixture(scope="module")
def http_file(lhc_dir, tmp_path_factory):
    """(URL, rows) of one LHC Parquet file served over http://127.0.0.1."""
    pq = pytest.importorskip("pyarrow.parquet")
    source = sorted(lhc_dir.rglob("*.parquet"))[0]
    root = tmp_path_factory.mktemp("http")
    (root / "x.parquet").write_bytes(source.read_bytes())
    handler = type("Handler", (RangeHandler,), {"directory": root})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/x.parquet", pq.ParquetFile(source).metadata.num_rows
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_http_range_server_works(http_file):
    url, _ = http_file
    request = urllib.request.Request(url, headers={"Range": "bytes=0-3"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206 and response.read() == b"PAR1"
    request = urllib.request.Request(url, headers={"Range": "bytes=-4"})
    with urllib.request.urlopen(request) as response:
        assert response.read() == b"PAR1"


def test_http_parquet_file(hepq, http_file):
    url, rows = http_file
    (row,) = hepq.sql("SELECT count(*) AS n, count(DISTINCT event) AS ne FROM x", register={"x": url})
    assert row == {"n": rows, "ne": rows}


def test_http_missing_file_is_a_clean_error(hepq, http_file):
    url, _ = http_file
    missing = url.replace("x.parquet", "nope.parquet")
    run = hepq.sql_run("SELECT count(*) FROM x", register={"x": missing}, check=False)
    assert run.returncode == 1, run.describe()
    assert run.stderr.startswith("Error: "), run.describe()
    assert "nope.parquet" in run.stderr, run.describe()



def test_s3_copy_to_root(hepq, s3_endpoint, tmp_path):
    """COPY … TO 's3://…' STORED AS ROOT: the writer's local temporary file is uploaded in parts;
    uproot reads the object back."""
    boto3 = pytest.importorskip("boto3")
    uproot = pytest.importorskip("uproot")
    env = {
        "AWS_ENDPOINT": s3_endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
    }
    rows = hepq.sql(
        f"COPY (SELECT nJet, Jet_pt, MET_pt FROM lhc ORDER BY event) TO 's3://{BUCKET}/copies/lhc.root' "
        "STORED AS ROOT OPTIONS ('compression' 'zstd')",
        register={"lhc": f"s3://{BUCKET}/{PREFIX}/"},
        env=env,
    )
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    local = tmp_path / "lhc.root"
    s3.download_file(BUCKET, "copies/lhc.root", str(local))
    with uproot.open(local) as f:
        tree = f["Events"]
        assert [{"count": tree.num_entries}] == rows
        assert tree.num_entries > 0
        assert tree["nJet"].array(library="np").sum() == sum(len(x) for x in tree["Jet_pt"].array(library="ak").tolist())

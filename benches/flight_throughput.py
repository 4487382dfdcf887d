"""Flight SQL throughput against a running `chronicle serve` (started by
benches/flight_throughput.sh, which passes its addresses and a directory).

Loads TSBS cpu-only points (100 hosts, the ten TSBS tags, the ten usage_*
fields, one sample per host every 10 s) with ADBC bulk ingest, then reads
every row back three ways in the same run:

  a) flight_sql:   ADBC Flight SQL `fetch_arrow_table()` of SELECT * FROM cpu
  b) parquet:      pyarrow.parquet.read_table of the same rows, exported by
                   the server (`POST /query?format=parquet`, written to a
                   local file before the clock starts)
  c) http_json:    `POST /query?format=json` of the same query, the body
                   read and parsed with json.loads (rows as lists)

Each read is timed from the request to a complete in-memory result (an
Arrow table, or Python lists for JSON); the best of REPEATS runs counts.
Ingest is timed once, from the first batch sent to the row count answered.

Counting: a row is one (host, time) with its ten fields, so 1,000,000 rows
are 10,000,000 points. The table gives rows; the ingest line under it says
rows/s and points/s.

Prints TSV under the header `path rows seconds rows_per_sec`, then the
ratios a/b and a/c, with the targets (a >= 0.5 b, a >= 10 c, ingest >=
1,000,000 rows/s).

usage: flight_throughput.py --flight URI --http URL --dir DIR [--points N]
"""

import argparse
import json
import os
import sys
import time
import urllib.request

import adbc_driver_flightsql.dbapi as flight_sql
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HOSTS = 100
FIELDS = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
          "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"]
REGIONS = ["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
           "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"]
BATCH_ROWS = 50_000
REPEATS = 3
QUERY = "SELECT * FROM cpu"
START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z


def tsbs_batches(rows, seed=1):
    """TSBS cpu-only rows as record batches of BATCH_ROWS, ordered by time
    then host as TSBS writes them: tags are dictionary columns (as pandas
    categoricals arrive), fields random walks clipped to 0..100."""
    rng = np.random.default_rng(seed)
    steps = rows // HOSTS
    host = np.arange(HOSTS)
    tags = {
        "hostname": [f"host_{h}" for h in host],
        "region": [REGIONS[h % len(REGIONS)] for h in host],
        "datacenter": [f"{REGIONS[h % len(REGIONS)]}{'abc'[h % 3]}" for h in host],
        "rack": [str(rng.integers(0, 100)) for _ in host],
        "os": [["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"][h % 3] for h in host],
        "arch": [["x64", "x86"][h % 2] for h in host],
        "team": [["SF", "NYC", "LON", "CHI"][h % 4] for h in host],
        "service": [str(rng.integers(0, 20)) for _ in host],
        "service_version": [str(rng.integers(0, 2)) for _ in host],
        "service_environment": [["production", "staging", "test"][h % 3] for h in host],
    }
    dictionaries = {k: pa.array(v) for k, v in tags.items()}
    walk = np.full((len(FIELDS), HOSTS), 50.0)
    steps_per_batch = BATCH_ROWS // HOSTS
    for first in range(0, steps, steps_per_batch):
        n = min(steps_per_batch, steps - first)
        deltas = rng.normal(0, 1.0, size=(len(FIELDS), n, HOSTS))
        values = np.clip(walk[:, None, :] + np.cumsum(deltas, axis=1), 0, 100)
        walk = values[:, -1, :]
        t = START_NS + (first + np.arange(n)) * 10 * 10**9
        columns = {"time": pa.array(np.repeat(t, HOSTS), pa.timestamp("ns", "UTC"))}
        indices = pa.array(np.tile(host, n).astype(np.int32))
        for k, d in dictionaries.items():
            columns[k] = pa.DictionaryArray.from_arrays(indices, d)
        for i, f in enumerate(FIELDS):
            columns[f] = pa.array(values[i].reshape(-1))
        yield pa.RecordBatch.from_pydict(columns)


def schema():
    return next(tsbs_batches(HOSTS)).schema


def post(url, body, out=None):
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        if out is None:
            return response.read()
        while chunk := response.read(1 << 20):
            out.write(chunk)
        return None


def best(f):
    """The result of f and its fastest time over REPEATS runs."""
    times = []
    result = None
    for _ in range(REPEATS):
        result = None
        started = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - started)
    return result, min(times)


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--flight", required=True)
    args.add_argument("--http", required=True)
    args.add_argument("--dir", required=True)
    args.add_argument("--points", type=int, default=10_000_000)
    args.add_argument("--skip-json", action="store_true", help="leave out (c), the slowest")
    a = args.parse_args()
    rows = a.points // len(FIELDS)

    batches = list(tsbs_batches(rows))
    generated = sum(b.num_rows for b in batches)
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    with flight_sql.connect(a.flight, autocommit=True) as conn:
        with conn.cursor() as cur:
            started = time.perf_counter()
            ingested = cur.adbc_ingest("cpu", reader, mode="create_append")
            ingest_s = time.perf_counter() - started
        assert ingested == generated, (ingested, generated)
        del batches, reader

        def flight():
            with conn.cursor() as cur:
                cur.execute(QUERY)
                return cur.fetch_arrow_table()

        table, flight_s = best(flight)
    assert table.num_rows == generated, table.num_rows
    columns = table.num_columns
    del table

    path = os.path.join(a.dir, "cpu.parquet")
    with open(path, "wb") as out:
        post(f"{a.http}/query?format=parquet", json.dumps({"query": QUERY, "lang": "sql"}).encode(), out)
    parquet_table, parquet_s = best(lambda: pq.read_table(path))
    assert parquet_table.num_rows == generated and parquet_table.num_columns == columns
    del parquet_table

    results = [
        ("adbc_ingest", generated, ingest_s),
        ("flight_sql", generated, flight_s),
        ("parquet", generated, parquet_s),
    ]
    json_s = None
    if not a.skip_json:
        def http_json():
            return json.loads(post(f"{a.http}/query?format=json", json.dumps({"query": QUERY, "lang": "sql"}).encode()))

        body, json_s = best(http_json)
        assert len(body["rows"]) == generated, len(body["rows"])
        del body
        results.append(("http_json", generated, json_s))

    print("path\trows\tseconds\trows_per_sec")
    for name, n, s in results:
        print(f"{name}\t{n}\t{s:.3f}\t{n / s:.0f}")
    print(f"# ingest: {generated / ingest_s:,.0f} rows/s = {generated * len(FIELDS) / ingest_s:,.0f} points/s "
          f"(target >= 1,000,000 rows/s)")
    print(f"# a/b flight_sql / parquet rows/s: {parquet_s / flight_s:.2f} (target >= 0.50); "
          f"parquet file {os.path.getsize(path) / 2**20:.0f} MiB")
    if json_s is not None:
        print(f"# a/c flight_sql / http_json rows/s: {json_s / flight_s:.1f} (target >= 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

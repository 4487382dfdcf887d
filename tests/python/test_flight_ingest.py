"""Bulk ingest over ADBC (`adbc_ingest`) from pandas and from polars
(`write_database(engine="adbc")`), read back through Flight SQL and
through HTTP `/query`, compared with the DataFrames sent."""

import adbc_driver_manager
import pandas as pd
import polars as pl
import pytest
from datetime import datetime, timedelta, timezone

from conftest import connect, http_query, token

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def pandas_frame(n):
    return pd.DataFrame(
        {
            "time": pd.to_datetime([T0 + timedelta(seconds=i) for i in range(n)]),
            "host": [f"h{i % 3}" for i in range(n)],
            "usage": [i * 0.5 for i in range(n)],
            "cores": [i % 8 for i in range(n)],
            "up": [i % 2 == 0 for i in range(n)],
        }
    )


def test_pandas_adbc_ingest_create_then_append():
    df = pandas_frame(1000)
    with connect(token("write")) as conn, conn.cursor() as cur:
        assert cur.adbc_ingest("pd_cpu", df, mode="create") == 1000
        more = pandas_frame(1500).iloc[1000:].reset_index(drop=True)
        assert cur.adbc_ingest("pd_cpu", more, mode="append") == 500
        # create again: the measurement exists now.
        with pytest.raises(adbc_driver_manager.Error) as e:
            cur.adbc_ingest("pd_cpu", df, mode="create")
        assert "exists" in str(e.value)
        cur.execute("SELECT time, host, usage, cores, up FROM pd_cpu ORDER BY time")
        back = cur.fetch_df()
    sent = pandas_frame(1500)
    assert len(back) == 1500
    assert [t.value for t in back["time"]] == [t.value for t in sent["time"]]
    assert list(back["host"]) == list(sent["host"])
    assert list(back["usage"]) == list(sent["usage"])
    assert list(back["cores"]) == [float(c) for c in sent["cores"]]
    assert list(back["up"]) == [1.0 if u else 0.0 for u in sent["up"]]
    # The same points through HTTP.
    [[n, total]] = http_query("SELECT count(*) AS n, sum(usage) AS s FROM pd_cpu", token("write"))
    assert n == 1500 and total == pytest.approx(sum(sent["usage"]))


def test_polars_write_database_with_adbc():
    n = 2000
    df = pl.DataFrame(
        {
            "time": [T0 + timedelta(milliseconds=i) for i in range(n)],
            "region": ["eu" if i % 2 else "us" for i in range(n)],
            "temp": [20.0 + i / 100 for i in range(n)],
            "missing": [None if i % 4 == 0 else float(i) for i in range(n)],
        }
    )
    with connect(token("write")) as conn:
        written = df.write_database("pl_weather", connection=conn, engine="adbc")
        assert written == n
        back = pl.read_database("SELECT time, region, temp, missing FROM pl_weather ORDER BY time", connection=conn)
    assert back["region"].to_list() == df["region"].to_list()
    assert back["temp"].to_list() == df["temp"].to_list()
    # Null field values are absent points, read back as nulls.
    assert back["missing"].to_list() == df["missing"].to_list()
    sent_ns = [int((t - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds() * 10**6) * 1000 for t in df["time"].to_list()]
    got_ns = back["time"].cast(pl.Int64).to_list()
    unit = back["time"].dtype.time_unit
    scale = {"ns": 1, "us": 1000, "ms": 10**6}[unit]
    assert [g * scale for g in got_ns] == sent_ns
    rows = http_query("SELECT region, count(*) AS n FROM pl_weather GROUP BY region ORDER BY region", token("write"))
    assert rows == [["eu", n // 2], ["us", n // 2]]


def test_a_large_frame_ingests_as_a_stream_of_batches():
    # The driver sends at most 16 MiB per message: a large frame goes as a
    # reader of smaller batches, each written as it arrives.
    import pyarrow as pa

    n, chunk = 300_000, 50_000
    table = pa.table(
        {
            "time": pa.array([i * 10**6 for i in range(n)], pa.timestamp("ns")),
            "host": pa.array([f"h{i % 7}" for i in range(n)]),
            "v": pa.array([float(i % 1000) for i in range(n)]),
        }
    )
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=chunk))
    with connect(token("write")) as conn, conn.cursor() as cur:
        assert cur.adbc_ingest("stream_cpu", reader, mode="create") == n
    [[count, total, hosts]] = http_query(
        "SELECT count(*) AS n, sum(v) AS s, count(DISTINCT host) AS hosts FROM stream_cpu", token("write")
    )
    assert (count, total, hosts) == (n, float(sum(i % 1000 for i in range(n))), 7)

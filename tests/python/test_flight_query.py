"""Queries over ADBC Flight SQL as data scientists run them: Arrow tables,
pandas and polars DataFrames, a prepared statement with parameters, and
the metadata calls. The points are written through HTTP line protocol from
values generated here, and every answer is compared with those values."""

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from conftest import connect, http, token

T0 = 1_767_225_600 * 10**9
HOSTS = ["a", "b", "c"]
N = 200


def usage(h, i):
    return round(i * 0.25 + h * 100.0, 2)


@pytest.fixture(scope="module", autouse=True)
def points():
    lines = [f"cpu,host={host} usage={usage(h, i)},cores={h + 1}i {T0 + i * 10**9}" for h, host in enumerate(HOSTS) for i in range(N)]
    status, text = http("/write?precision=ns", "\n".join(lines).encode(), token("write"), "text/plain")
    assert status == 204, text


def test_fetch_arrow_table_returns_every_point():
    with connect(token("read")) as conn, conn.cursor() as cur:
        cur.execute("SELECT host, time, usage, cores FROM cpu ORDER BY host, time")
        table = cur.fetch_arrow_table()
    assert table.num_rows == len(HOSTS) * N
    assert pa.types.is_timestamp(table.schema.field("time").type)
    rows = table.to_pylist()
    expected = [(host, T0 + i * 10**9, usage(h, i), float(h + 1)) for h, host in enumerate(HOSTS) for i in range(N)]
    got = [(r["host"], r["time"].value if hasattr(r["time"], "value") else pd.Timestamp(r["time"]).value, r["usage"], r["cores"]) for r in rows]
    assert got == expected


def test_fetch_df_into_pandas():
    with connect(token("read")) as conn, conn.cursor() as cur:
        cur.execute("SELECT host, avg(usage) AS mean, count(*) AS n FROM cpu GROUP BY host ORDER BY host")
        df = cur.fetch_df()
    assert isinstance(df, pd.DataFrame)
    assert list(df["host"]) == HOSTS
    assert list(df["n"]) == [N] * len(HOSTS)
    for h, mean in enumerate(df["mean"]):
        assert mean == pytest.approx(sum(usage(h, i) for i in range(N)) / N)


def test_polars_read_database():
    with connect(token("read")) as conn:
        df = pl.read_database("SELECT host, max(usage) AS top FROM cpu GROUP BY host ORDER BY host", connection=conn)
    assert isinstance(df, pl.DataFrame)
    assert df["host"].to_list() == HOSTS
    assert df["top"].to_list() == [usage(h, N - 1) for h in range(len(HOSTS))]


def test_prepared_statement_with_parameters():
    with connect(token("read")) as conn, conn.cursor() as cur:
        sql = "SELECT count(*) AS n FROM cpu WHERE host = $1 AND usage > $2"
        for host, threshold in [("b", 120.0), ("c", 249.0), ("a", 1000.0)]:
            cur.execute(sql, parameters=(host, threshold))
            got = cur.fetch_arrow_table().to_pylist()[0]["n"]
            h = HOSTS.index(host)
            assert got == sum(1 for i in range(N) if usage(h, i) > threshold), (host, threshold)


def test_adbc_get_objects_lists_the_measurement_and_its_columns():
    with connect(token("read")) as conn:
        objects = conn.adbc_get_objects(depth="all", table_name_filter="cp%").read_all().to_pylist()
    tables = {
        (catalog["catalog_name"], schema["db_schema_name"], table["table_name"]): [c["column_name"] for c in table["table_columns"] or []]
        for catalog in objects
        for schema in catalog["catalog_db_schemas"] or []
        for table in schema["db_schema_tables"] or []
    }
    assert set(tables) == {("datafusion", "public", "cpu")}, tables
    assert set(tables[("datafusion", "public", "cpu")]) == {"time", "host", "usage", "cores"}


def test_adbc_get_table_schema():
    with connect(token("read")) as conn:
        schema = conn.adbc_get_table_schema("cpu")
    assert pa.types.is_timestamp(schema.field("time").type)
    assert pa.types.is_floating(schema.field("usage").type)
    host = schema.field("host").type
    assert pa.types.is_string(host) or pa.types.is_dictionary(host) or pa.types.is_large_string(host), host


def test_adbc_get_info_names_the_server():
    with connect(token("read")) as conn:
        info = conn.adbc_get_info()
    assert info["vendor_name"] == "chronicle", info
    assert info["vendor_version"], info

"""Errors reach Python as exceptions carrying Chronicle's message: bad SQL,
an unknown table, a bad ingest schema, a read-only token ingesting, and a
missing or wrong token. After each, the server still answers and earlier
data is intact."""

import adbc_driver_manager
import pandas as pd
import pytest

from conftest import connect, token


def query(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table().to_pylist()


@pytest.fixture(scope="module", autouse=True)
def some_points():
    df = pd.DataFrame({"time": pd.to_datetime([1, 2, 3], unit="s", utc=True), "v": [1.0, 2.0, 3.0]})
    with connect(token("write")) as conn, conn.cursor() as cur:
        assert cur.adbc_ingest("kept", df, mode="create") == 3


def still_up():
    with connect(token("read")) as conn:
        assert query(conn, "SELECT count(*) AS n, sum(v) AS s FROM kept") == [{"n": 3, "s": 6.0}]


def test_bad_sql():
    with connect(token("read")) as conn, pytest.raises(adbc_driver_manager.Error) as e:
        query(conn, "SELEC v FROM kept")
    assert "SELEC" in str(e.value)
    still_up()


def test_unknown_table():
    with connect(token("read")) as conn, pytest.raises(adbc_driver_manager.Error) as e:
        query(conn, "SELECT * FROM no_such_measurement")
    assert "no_such_measurement" in str(e.value)
    still_up()


def test_bad_ingest_schemas_name_the_column():
    cases = [
        (pd.DataFrame({"v": [1.0]}), "column time"),
        (pd.DataFrame({"time": pd.to_datetime([1], unit="s"), "blob": [b"\x00\x01"]}), "column blob"),
        (pd.DataFrame({"time": ["yesterday"], "v": [1.0]}), "column time"),
    ]
    with connect(token("write")) as conn, conn.cursor() as cur:
        for df, says in cases:
            with pytest.raises(adbc_driver_manager.Error) as e:
                cur.adbc_ingest("bad", df, mode="create")
            assert says in str(e.value), str(e.value)
    still_up()


def test_a_read_only_token_cannot_ingest():
    df = pd.DataFrame({"time": pd.to_datetime([9], unit="s"), "v": [9.0]})
    with connect(token("read")) as conn, conn.cursor() as cur, pytest.raises(adbc_driver_manager.Error) as e:
        cur.adbc_ingest("kept", df, mode="append")
    assert "read-only" in str(e.value)
    still_up()


def test_missing_and_wrong_tokens():
    with connect() as conn, pytest.raises(adbc_driver_manager.Error) as e:
        query(conn, "SELECT 1")
    assert "needs a token" in str(e.value)
    with connect("not-a-token") as conn, pytest.raises(adbc_driver_manager.Error) as e:
        query(conn, "SELECT 1")
    assert "not valid" in str(e.value)
    # A basic login (any user, the token as password) gets a bearer token.
    with connect(None, username="anyone", password=token("read")) as conn:
        assert query(conn, "SELECT count(*) AS n FROM kept") == [{"n": 3}]
    still_up()

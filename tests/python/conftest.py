"""Shared by the Flight SQL tests (test_flight_*.py), run by
tests/flight_python.rs against a `chronicle serve` it started: where the
server is, and ADBC connections to it."""

import json
import os
import urllib.request

import adbc_driver_flightsql.dbapi as flight_sql
import pytest


def flight_uri():
    return os.environ["CHRONICLE_FLIGHT_URI"]


def http_url():
    return os.environ["CHRONICLE_HTTP_URL"]


def token(name):
    """The secret of token `name` (read or write), when the server has tokens."""
    return os.environ.get(f"CHRONICLE_TOKEN_{name.upper()}")


def connect(secret=None, **db_kwargs):
    """An ADBC Flight SQL connection, sending `secret` as bearer token."""
    if secret is not None:
        db_kwargs["adbc.flight.sql.authorization_header"] = f"Bearer {secret}"
    return flight_sql.connect(flight_uri(), db_kwargs=db_kwargs, autocommit=True)


def http(path, body=None, secret=None, content_type="application/json"):
    """POSTs `body` (bytes) to the HTTP API; returns (status, text)."""
    request = urllib.request.Request(http_url() + path, data=body, method="POST")
    request.add_header("Content-Type", content_type)
    if secret is not None:
        request.add_header("Authorization", f"Bearer {secret}")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_query(sql, secret=None):
    """Rows of `sql` through HTTP `/query` (JSON), as lists."""
    status, text = http("/query?format=json", json.dumps({"query": sql, "lang": "sql"}).encode(), secret)
    assert status == 200, text
    return json.loads(text)["rows"]


@pytest.fixture
def conn():
    with connect(token("write")) as c:
        yield c

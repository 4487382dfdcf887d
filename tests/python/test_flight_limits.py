"""Flight SQL queries take the HTTP server's query slots, against a server
started with `--max-concurrent-queries 1 --query-timeout 3s` (see
tests/flight_python.rs): a query waits while another holds the one slot,
whether it comes by Flight SQL or HTTP; it is refused, as HTTP refuses
it, when no slot frees within the query timeout; and `/metrics` counts
the Flight SQL queries under `lang="flight_sql"`.

A query holds the slot by being read no further than its first batch: the
server cannot send more, so it stays running until the client closes the
reader or the query timeout ends it."""

import re
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import connect, http, http_query, http_url, token

TIMEOUT = 3.0
ENDLESS = "SELECT value FROM generate_series(1, 1000000000000)"


def hold(conn):
    """Starts ENDLESS on `conn` and reads one batch, so it holds a slot."""
    cur = conn.cursor()
    cur.execute(ENDLESS)
    reader = cur.fetch_record_batch()
    assert reader.read_next_batch().num_rows > 0
    return cur, reader


def answer(conn, sql):
    """The one value of `sql` over Flight SQL, and how long it took."""
    started = time.monotonic()
    with conn.cursor() as cur:
        cur.execute(sql)
        value = cur.fetch_arrow_table().column(0).to_pylist()
    return value, time.monotonic() - started


def http_answer(sql):
    started = time.monotonic()
    rows = http_query(sql, token("read"))
    return rows, time.monotonic() - started


def queries_counted(lang):
    """chronicle_query_duration_seconds_count of `lang` in /metrics."""
    with urllib.request.urlopen(http_url() + "/metrics") as response:
        text = response.read().decode()
    found = re.search(rf'^chronicle_query_duration_seconds_count{{lang="{lang}"}} (\d+)$', text, re.M)
    return int(found.group(1)) if found else 0


def test_a_query_waits_for_the_slot_a_flight_query_holds():
    flight_before, sql_before = queries_counted("flight_sql"), queries_counted("sql")
    with connect(token("read")) as holder, connect(token("read")) as other, ThreadPoolExecutor(2) as pool:
        cur, reader = hold(holder)
        by_flight = pool.submit(answer, other, "SELECT 41 + 1 AS answer")
        by_http = pool.submit(http_answer, "SELECT 6 * 7 AS answer")
        time.sleep(1.0)
        assert not by_flight.done() and not by_http.done(), "a query ran while another held the only slot"
        # The client goes away: its query is cancelled and its slot freed,
        # long before its timeout would have.
        reader.close()
        cur.close()
        value, waited = by_flight.result(timeout=10)
        assert value == [42]
        assert 1.0 <= waited < TIMEOUT, waited
        rows, waited = by_http.result(timeout=10)
        assert rows == [[42]]
        assert 1.0 <= waited < TIMEOUT, waited
    # Counted: the held query and the one that waited; HTTP's as before.
    assert queries_counted("flight_sql") == flight_before + 2
    assert queries_counted("sql") == sql_before + 1


def test_a_query_without_a_slot_within_the_timeout_is_refused():
    flight_before = queries_counted("flight_sql")
    with (
        connect(token("read")) as first,
        connect(token("read")) as second,
        connect(token("read")) as third,
        ThreadPoolExecutor(3) as pool,
    ):
        cur1, reader1 = hold(first)
        # Queued first: gets the slot when the first query times out, then
        # holds it past the timeout of the two queued after it.
        held = pool.submit(hold, second)
        time.sleep(0.5)
        by_flight = pool.submit(answer, third, "SELECT 1")
        by_http = pool.submit(http, "/query?format=json", b'{"query": "SELECT 1", "lang": "sql"}', token("read"))
        e = by_flight.exception(timeout=4 * TIMEOUT)
        assert e is not None, "a query ran while two others held or waited for the only slot"
        assert "too many queries" in str(e), e
        status, text = by_http.result(timeout=4 * TIMEOUT)
        assert status == 503 and "too many queries" in text, (status, text)
        cur2, reader2 = held.result(timeout=4 * TIMEOUT)
        # Both held queries end at their timeout, saying so.
        for cur, reader in [(cur1, reader1), (cur2, reader2)]:
            with pytest.raises(Exception, match="query timeout"):
                for _ in reader:
                    pass
            cur.close()
    # Counted: the two that ran; a refused query never ran.
    assert queries_counted("flight_sql") == flight_before + 2

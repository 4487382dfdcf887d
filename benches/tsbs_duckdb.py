"""DuckDB's half of the TSBS comparison (benches/tsbs_duckdb.rs runs it).

Usage: python3 benches/tsbs_duckdb.py PARQUET

Creates the view `cpu` over Chronicle's Parquet export PARQUET in an
in-memory DuckDB (session time zone UTC, as Chronicle's timestamps are),
prints `ready ROWS`, then answers requests from stdin, one a line:
`OUT<TAB>SQL`. Each statement runs to an Arrow table, timed from the call
until the table is built; the table is written to the file OUT as an Arrow
IPC stream and the time is printed in milliseconds, one line per request.
"""

import sys
import time

import duckdb
import pyarrow as pa


def arrow_table(con, sql):
    relation = con.sql(sql)
    # DuckDB 1.4 renamed `arrow()` to `to_arrow_table()`.
    return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()


def main():
    parquet = sys.argv[1]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    quoted = parquet.replace("'", "''")
    con.execute(f"CREATE VIEW cpu AS SELECT * FROM read_parquet('{quoted}')")
    rows = con.execute("SELECT count(*) FROM cpu").fetchall()[0][0]
    print(f"ready {rows}", flush=True)
    for line in sys.stdin:
        out, sql = line.rstrip("\n").split("\t", 1)
        started = time.perf_counter()
        table = arrow_table(con, sql)
        elapsed_ms = (time.perf_counter() - started) * 1e3
        with pa.OSFile(out, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        print(f"{elapsed_ms:.6f}", flush=True)


if __name__ == "__main__":
    main()

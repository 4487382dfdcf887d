"""A result of 5,000,000 rows (about 0.5 GB as Arrow) streams to an ADBC
reader while the server's peak memory (VmHWM of its process) grows far
less than the result: the server never collects it."""

import os

from conftest import connect, token

ROWS = 5_000_000
# The result as Arrow: 2 x 8 bytes of numbers, a 72-byte label and its
# 4-byte offset per row, about 460 MiB. Collected, the server would hold it
# all: measured, VmHWM grew by 499 MiB with the query collected first, and
# by 18 to 78 MiB streamed (more when other servers run at once).
BOUND_MIB = 200


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_five_million_rows_stream_with_bounded_server_memory():
    pid = int(os.environ["CHRONICLE_PID"])
    before = vm_hwm_kib(pid)
    sql = (
        "SELECT value, value * 2 AS twice, concat(repeat('x', 64), lpad(CAST(value % 100000000 AS VARCHAR), 8, '0')) AS label "
        f"FROM generate_series(1, {ROWS})"
    )
    rows = 0
    total = 0
    with connect(token("read")) as conn, conn.cursor() as cur:
        cur.execute(sql)
        reader = cur.fetch_record_batch()
        for batch in reader:
            rows += batch.num_rows
            values = batch.column("value").to_pylist()
            total += sum(values)
            assert batch.column("twice").to_pylist() == [2 * v for v in values]
            assert all(len(label) == 72 for label in batch.column("label").to_pylist())
    assert rows == ROWS
    assert total == ROWS * (ROWS + 1) // 2
    grown_mib = (vm_hwm_kib(pid) - before) / 1024
    print(f"server VmHWM grew by {grown_mib:.0f} MiB while streaming {ROWS} rows")
    assert grown_mib < BOUND_MIB, f"server peak memory grew by {grown_mib:.0f} MiB: the result was held, not streamed"

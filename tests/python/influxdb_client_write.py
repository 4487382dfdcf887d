"""Writes points with the influxdb-client package (InfluxDB 2's official
Python client) to /api/v2/write of the server at sys.argv[1]: Point objects
in seconds, line protocol in milliseconds, and a gzip-compressed batch.
Run by tests/influxdb_client_python.rs."""
import sys

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

url = sys.argv[1]
with InfluxDBClient(url=url, token="unused", org="my-org") as client:
    write = client.write_api(write_options=SYNCHRONOUS)
    write.write(
        bucket="my-bucket",
        record=[
            Point("h2o").tag("location", "coyote creek").field("level", 8.5).time(1767225600, WritePrecision.S),
            Point("h2o").tag("location", "santa monica").field("level", 2.25).field("ok", True)
            .time(1767225601, WritePrecision.S),
        ],
        write_precision=WritePrecision.S,
    )
    write.write(bucket="my-bucket", record="h2o,location=santa\\ monica level=3i 1767225602000",
                write_precision=WritePrecision.MS)
with InfluxDBClient(url=url, token="unused", org="my-org", enable_gzip=True) as client:
    write = client.write_api(write_options=SYNCHRONOUS)
    write.write(bucket="my-bucket", record=[f"gz,n=n{i} v={i} {1767225600000000000 + i}" for i in range(1000)])
print("written")

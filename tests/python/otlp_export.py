"""Exports a counter, a gauge and a histogram with the OpenTelemetry SDK over
OTLP/HTTP (protobuf) to the server at sys.argv[1]; exits non-zero when the
export fails. Run by tests/otlp_python_sdk.rs."""
import sys

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

results = []


class Recording(OTLPMetricExporter):
    """The SDK's exporter, remembering whether each export succeeded."""

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        results.append(result)
        return result


exporter = Recording(endpoint=sys.argv[1] + "/v1/metrics")
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
# Exactly these attributes: Resource.create would add telemetry.sdk.* too.
resource = Resource(
    {"service.name": "checkout", "service.instance.id": "i-1", "deployment.environment": "test"}
)
provider = MeterProvider(resource=resource, metric_readers=[reader])
meter = provider.get_meter("chronicle-test")

orders = meter.create_counter("orders", unit="{order}")
orders.add(5, {"shop": "north"})
orders.add(2, {"shop": "north"})
meter.create_observable_gauge(
    "room.temperature", unit="Cel", callbacks=[lambda options: [Observation(21.5, {"room": "lab"})]]
)
latency = meter.create_histogram("http.latency", unit="ms")
for ms in (3, 7, 120):
    latency.record(ms, {"route": "/pay"})

provider.force_flush()
provider.shutdown()
if not results or any(r != MetricExportResult.SUCCESS for r in results):
    sys.exit(f"export failed: {results}")
print(f"exported {len(results)} time(s)")

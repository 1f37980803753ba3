from wac.monitor.histogram import Histogram
from wac.monitor.metrics import prometheus_buckets


def test_buckets_are_cumulative_and_exact_on_millisecond_edges() -> None:
    histogram = Histogram()
    for seconds in (0.0004, 0.0009, 0.003, 0.02, 0.2, 1.5, 45.0):
        histogram.record(seconds)
    buckets, total = prometheus_buckets(histogram, (0.001, 0.005, 0.1, 1.0, 2.5))
    assert buckets == [
        ("0.001", 2.0),
        ("0.005", 3.0),
        ("0.1", 4.0),
        ("1.0", 5.0),
        ("2.5", 6.0),
        ("+Inf", 7.0),
    ]
    assert total == sum((0.0004, 0.0009, 0.003, 0.02, 0.2, 1.5, 45.0))

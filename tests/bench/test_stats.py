from bench.stats import pct


def test_percentiles_by_nearest_rank() -> None:
    values = list(range(100, 0, -1))  # 1..100, unsorted
    assert pct(values, 0.99) == 99  # the 99th of 100, not the largest
    assert pct(values, 0.5) == 50
    assert pct(values, 1.0) == 100
    assert pct([7.25], 0.99) == 7.2
    assert pct([], 0.5) is None

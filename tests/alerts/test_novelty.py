"""Band novelty: each move between bands is news once, then ordinary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.detectors.novelty import BandNovelty


def _events(detector: BandNovelty, values: list[float]) -> list[int]:
    return [i for i, v in enumerate(values) if detector.update(v)]


def test_a_level_shift_is_flagged_once_at_once_and_plain_noise_is_not() -> None:
    rng = np.random.default_rng(1)
    values = [float(v) for v in np.concatenate([rng.normal(20, 0.5, 2000),
                                                rng.normal(26, 0.5, 500)])]
    detector = BandNovelty(18.0, 28.0, bands=5, quiet=50, warmup=200)
    events = _events(detector, values)
    assert events[0] == 2000  # the shift, at once
    # Noise within the usual bands never is; the new moves the shift brings about follow
    # within the quiet time and stay quiet.
    assert events == [2000]


def test_a_move_is_news_once_and_the_quiet_time_holds_back_the_next() -> None:
    detector = BandNovelty(0.0, 4.0, bands=4, quiet=3)
    assert _events(detector, [0.5, 0.5]) == [1]  # 0 -> 0 is new
    assert _events(detector, [0.5, 0.5, 0.5]) == []  # and then ordinary
    assert detector.update(1.5)  # 0 -> 1, new, a sample past the quiet time
    # New moves within 3 samples of it are learned without an event.
    assert _events(detector, [2.5, 3.5, 2.5]) == []
    assert _events(detector, [3.5, 2.5, 3.5]) == []  # seen by now
    assert detector.update(1.5)  # 3 -> 1 is new, and the quiet time is over


def test_values_outside_the_span_count_in_its_edge_bands() -> None:
    detector = BandNovelty(10.0, 20.0, bands=2, quiet=0)
    assert detector.band(-50.0) == 0 and detector.band(10.0) == 0
    assert detector.band(19.99) == 1 and detector.band(20.0) == 1 and detector.band(99) == 1
    assert _events(detector, [12.0, -50.0, 11.0, 99.0, 25.0]) == [1, 3, 4]


def test_a_value_just_past_a_band_edge_is_no_move_when_bands_are_sticky() -> None:
    # Bands of 1.0; the stream sits just under the edge at 2.0, then twitches over it.
    values = [1.95] * 100 + [2.05, 1.95]
    for sticky, expected in ((0.0, [100, 101]), (0.3, [])):
        detector = BandNovelty(0.0, 8.0, bands=8, sticky=sticky, quiet=0, warmup=50)
        assert _events(detector, values) == expected, sticky
    # Sticky, a value well past the edge still leaves the band.
    detector = BandNovelty(0.0, 8.0, bands=8, sticky=0.3, quiet=0, warmup=50)
    assert _events(detector, [*values, 2.5]) == [102]


def test_a_value_that_is_not_a_number_changes_nothing() -> None:
    values = [0.5, 0.5, 1.5, 2.5, 0.5, 3.5]
    noisy = [0.5, math.nan, 0.5, math.inf, 1.5, -math.inf, 2.5, 0.5, math.nan, 3.5]
    clean, dirty = (BandNovelty(0.0, 4.0, bands=4, quiet=0) for _ in range(2))
    expected = [clean.update(v) for v in values]
    flags = [dirty.update(v) for v in noisy]
    assert [f for f, v in zip(flags, noisy, strict=True) if math.isfinite(v)] == expected
    assert not any(f for f, v in zip(flags, noisy, strict=True) if not math.isfinite(v))
    assert any(expected)


def test_warmup_only_learns() -> None:
    detector = BandNovelty(0.0, 4.0, bands=4, quiet=0, warmup=4)
    assert _events(detector, [0.5, 1.5, 2.5, 1.5]) == []  # learned while warming up
    assert _events(detector, [2.5, 1.5, 0.5, 3.5]) == [2, 3]  # 1 -> 0 and 0 -> 3 are new


def test_a_new_move_close_to_the_mean_stays_unlearned_until_it_is_far() -> None:
    detector = BandNovelty(0.0, 30.0, bands=10, sticky=0.0, quiet=0, warmup=100,
                           min_change=3.0, half_life=1000)
    steady = [20.5] * 100  # band 6 only; the mean is 20.5
    assert _events(detector, steady) == []
    # A slow cooling: each new move is too close to the mean to count, and is not
    # learned, so it is still news once the room is 3 degrees off.
    cooling = [20.5 - 0.1 * k for k in range(1, 40)]
    events = _events(detector, cooling)
    assert events and 17.0 < cooling[events[0]] <= 17.5
    # Without the guard the first new move (into band 5, below 18), still close to the
    # mean, is the event.
    plain = BandNovelty(0.0, 30.0, bands=10, sticky=0.0, quiet=0, warmup=100)
    _events(plain, steady)
    assert cooling[_events(plain, cooling)[0]] == pytest.approx(17.9)


def test_a_passing_excursion_stays_news_and_a_lasting_one_becomes_normal() -> None:
    detector = BandNovelty(0.0, 30.0, bands=10, quiet=20, warmup=100, min_change=3.0,
                           half_life=1000)
    steady, cold = [20.5] * 100, [16.0] * 10
    _events(detector, steady)
    # Two cold spells of 10 samples, a day apart: each is news.
    assert _events(detector, cold + steady) == [0]
    assert _events(detector, cold + steady) == [0]
    # A cold spell that lasts past the quiet time is learned as it goes on: after it,
    # the same spell is ordinary.
    assert _events(detector, [16.0] * 30 + steady) == [0]
    assert _events(detector, cold + steady) == []


@pytest.mark.parametrize("bad", [{"bands": 1}, {"quiet": -1}, {"warmup": -1},
                                 {"min_change": -0.5}, {"half_life": 0.0},
                                 {"sticky": -0.1}, {"sticky": 1.0},
                                 {"low": float("nan")}])
def test_bad_arguments_are_refused(bad: dict[str, float]) -> None:
    args: dict[str, float] = {"low": 0.0, "high": 1.0, **bad}
    with pytest.raises(ValueError):
        BandNovelty(**args)  # type: ignore[arg-type]

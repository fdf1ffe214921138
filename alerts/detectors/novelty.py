"""Band novelty: a stream moving in a way it never moved before.

Streaming and per series (a room's temperature). The stream's known span is cut into
``bands`` equal bands; every move from one reading's band to the next (staying put
included) is remembered. A move never seen before is an event: a room that cools into a
band it has never been in, or overheats, or jumps between bands it only ever drifted
between. Values outside the span count in the band at its edge. Bands are sticky: the
stream leaves its band only when a value passes the band's edge by ``sticky`` of a band's
width, so noise around an edge does not make new moves.

A new move is reported once and learned, so the next time it is ordinary. For ``quiet``
samples after an event no other event is reported (an ongoing departure makes many new
moves in a row). The first ``warmup`` samples only learn.

Guard for physical sensors: with ``min_change`` a new move is an event only when the value
is at least that far from the stream's slowly moving mean (half-life ``half_life``
samples). A new move closer than that is left unlearned, so a slow drift that goes on is
still noticed once it is far enough. The new moves of a departure are learned only once
it has lasted more than ``quiet`` samples (the stream's new normal); a departure that ends
sooner (a heating failure that is mended) stays news the next time. With no guard every
sample counts as departed, so every new move is learned from the ``quiet``-th sample on.
State is a few numbers per series (the moves seen are bits of one integer), so a centre
can keep one per room sensor.
"""

from __future__ import annotations

import math

BANDS = 8  # chosen on the development split of NAB (see EVALUATION.md)
STICKY = 0.3  # likewise


class BandNovelty:
    """Events on moves between bands of ``[low, high]`` never seen before.

    Args:
        low, high: the span the bands cover (a sensor's usual range).
        bands: how many equal bands the span is cut into.
        sticky: how far past its band's edge, in band widths, a value must be for the
            stream to have left that band.
        quiet: samples after an event during which no other event is reported.
        warmup: samples that only learn.
        min_change: the smallest distance from the stream's mean, in its units, at which a
            new move is an event (0: any new move is).
        half_life: samples for the weight of the mean that ``min_change`` is judged by
            to halve.

    ``BANDS`` and ``STICKY`` were chosen on the development split of the Numenta Anomaly
    Benchmark (see EVALUATION.md).
    """

    __slots__ = ("_alpha", "_far_run", "_mean", "_n", "_pending", "_prev", "_seen",
                 "_since_event", "_width", "bands", "high", "low", "min_change", "quiet",
                 "sticky", "warmup")

    def __init__(self, low: float, high: float, *, bands: int = BANDS,
                 sticky: float = STICKY, quiet: int = 150, warmup: int = 0,
                 min_change: float = 0.0, half_life: float = 144) -> None:
        if not (math.isfinite(low) and math.isfinite(high)) or bands < 2:
            raise ValueError("the span must be finite and cut into at least 2 bands")
        if not 0 <= sticky < 1:
            raise ValueError("sticky must be at least 0 and under one band")
        if quiet < 0 or warmup < 0 or min_change < 0 or half_life <= 0:
            raise ValueError("quiet, warmup and min_change must not be negative, "
                             "half_life must be positive")
        self.low = low
        self.high = high if high > low else low + 1.0
        self.bands = bands
        self.sticky = sticky
        self._width = (self.high - self.low) / bands
        self.quiet = quiet
        self.warmup = warmup
        self.min_change = min_change
        self._alpha = 1 - 0.5 ** (1 / half_life)
        self._seen = 0
        self._prev = -1
        self._mean = math.nan
        self._n = 0
        self._far_run = 0
        self._pending = 0
        self._since_event = quiet

    def state(self) -> tuple[int, int, float, int, int, int, int]:
        """What the stream taught it (the moves seen, where it is, its mean, runs)."""
        return (self._seen, self._prev, self._mean, self._n, self._far_run, self._pending,
                self._since_event)

    def load(self, state: tuple[int, int, float, int, int, int, int]) -> None:
        """Take ``state()`` back (``ValueError`` if it could not have been learned)."""
        seen, prev, mean, n, far_run, pending, since_event = state
        moves = 1 << (self.bands * self.bands)
        if not (0 <= seen < moves and 0 <= pending < moves and -1 <= prev < self.bands
                and min(n, far_run, since_event) >= 0
                and (math.isfinite(mean) or (n == 0 and math.isnan(mean)))):
            raise ValueError("a band novelty state out of range")
        (self._seen, self._prev, self._mean, self._n, self._far_run, self._pending,
         self._since_event) = state

    @property
    def mean(self) -> float:
        """The stream's slowly moving mean (nan before the first value)."""
        return self._mean

    def band(self, x: float) -> int:
        """The band ``x`` falls in (the edge band for a value outside the span)."""
        k = math.floor((x - self.low) / self._width)
        return min(self.bands - 1, max(0, k))

    def _next_band(self, x: float) -> int:
        band, now = self.band(x), self._prev
        if now < 0 or band == now:
            return band
        margin = self.sticky * self._width
        bottom = self.low + now * self._width
        inside = bottom - margin <= x < bottom + self._width + margin
        return now if inside else band

    def update(self, x: float) -> bool:
        """Judge the move to ``x``, then learn it. True for an event. A value that is not
        a finite number is not a move and changes nothing (validation upstream counts
        it)."""
        if not math.isfinite(x):
            return False
        band, prev, mean = self._next_band(x), self._prev, self._mean
        self._prev = band
        self._n += 1
        self._mean = x if self._n == 1 else mean + self._alpha * (x - mean)
        move = 1 << (prev * self.bands + band) if prev >= 0 else 0
        far = self._n > 1 and abs(x - mean) >= self.min_change
        # The new moves of a departure are learned once it has lasted ``quiet`` samples
        # (the new normal); a departure that ends before stays news.
        self._far_run = self._far_run + 1 if far else 0
        self._pending = self._pending | move if far else 0
        novel = bool(move) and not self._seen & move
        if self._n <= self.warmup:
            self._seen |= move
        elif self._far_run > self.quiet:
            self._seen |= self._pending
        # close to the mean, a new move stays unlearned: the same move further out is news
        event = novel and far and self._n > self.warmup and self._since_event >= self.quiet
        self._since_event = 0 if event else self._since_event + 1
        return event

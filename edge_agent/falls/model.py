"""Scorers for impact candidates: a threshold rule and a learned linear model.

The learned model is stored as JSON (feature means, scales, weights, bias, threshold):
loading it runs no code, unlike a pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import msgspec
import numpy as np

from edge_agent.falls.features import NAMES


class Scorer(Protocol):
    @property
    def floor_g(self) -> float: ...

    @property
    def possible_threshold(self) -> float | None:
        """A score from here up to a fall is a possible fall: the resident is asked."""
        ...

    def is_fall(self, features: np.ndarray) -> bool: ...

    def score(self, features: np.ndarray) -> float: ...


class ThresholdRule(msgspec.Struct, frozen=True):
    """Impact above ``peak_g`` followed by stillness (post-impact std below ``still_g``)
    and a changed orientation (more than ``tilt_deg``)."""

    peak_g: float
    still_g: float
    tilt_deg: float
    floor_g: float = 1.5
    possible_threshold: float | None = None  # (the rule has no second tier)

    def score(self, features: np.ndarray) -> float:
        f = dict(zip(NAMES, features, strict=True))
        return float(min(f["peak_g"] / self.peak_g, self.still_g / max(f["post_std_g"], 1e-6),
                         f["tilt_deg"] / max(self.tilt_deg, 1e-6)))

    def is_fall(self, features: np.ndarray) -> bool:
        return self.score(features) >= 1.0


class Tree(msgspec.Struct, frozen=True, array_like=True):
    """One decision tree as arrays; a leaf has ``left == -1``; ``value`` is P(fall)."""

    feature: list[int]
    threshold: list[float]
    left: list[int]
    right: list[int]
    value: list[float]

    def predict(self, x: list[float]) -> float:
        node = 0
        while self.left[node] != -1:
            node = (self.left[node] if x[self.feature[node]] <= self.threshold[node]
                    else self.right[node])
        return self.value[node]


class ForestModel(msgspec.Struct, frozen=True):
    """A small random forest over the window features; P(fall) is the trees' mean."""

    features: list[str]
    trees: list[Tree]
    threshold: float
    floor_g: float
    position: str = ""
    # the second, lower tier: a score from here up to ``threshold`` is a possible fall
    # (the home unit asks; it alarms unless the resident cancels); None: no such tier
    possible_threshold: float | None = None

    def score(self, features: np.ndarray) -> float:
        x = [float(v) for v in features]
        return sum(tree.predict(x) for tree in self.trees) / len(self.trees)

    def is_fall(self, features: np.ndarray) -> bool:
        return self.score(features) >= self.threshold


def shipped_path(position: str) -> Path:
    """Where the model trained by ``eldercare train falls`` for ``position`` ships."""
    return Path(__file__).with_name(f"model_{position}.json")


def save(model: ForestModel, path: Path) -> None:
    path.write_bytes(msgspec.json.encode(model))


def load(path: Path) -> ForestModel:
    """Load a model file (plain JSON: no code runs); refuses one for other features."""
    model = msgspec.json.decode(path.read_bytes(), type=ForestModel)
    if tuple(model.features) != NAMES:
        raise ValueError(f"{path}: features {model.features} are not {list(NAMES)}")
    return model

"""The edge fall detector on simulated wristband streams, with the shipped model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.falls import model as fall_model
from edge_agent.falls.detector import FallDetector
from edge_agent.falls.features import NAMES, POST, PRE, UPRIGHT, magnitude, window_features
from edge_agent.falls.model import ThresholdRule
from firmware_stubs.dialects.native import NativeDevice
from telemetry import native
from telemetry.topics import NativeStream

T0 = 1_795_329_000_000


def _stream(seconds: int, impact_at_s: int | None, seed: int = 1) -> list[native.Accel]:
    band = NativeDevice("EC-WB1", "h1-band")
    rng = np.random.default_rng(seed)
    blocks = []
    lying = False
    for s in range(seconds):
        t0 = T0 + s * 1000
        impact = T0 + impact_at_s * 1000 + 300 if impact_at_s == s else None
        message = band.accel(t0, 1.0, rng, impact)
        block = native.decode(NativeStream.ACCEL, message.payload)
        assert isinstance(block, native.Accel)
        if lying:  # after the fall the wearer stays on the floor, still
            block = native.Accel(t0=block.t0, hz=block.hz,
                                 xyz=[[0.98, 0.05, 0.1]] * len(block.xyz))
        lying = lying or impact is not None
        blocks.append(block)
    return blocks


def _feed(detector: FallDetector, blocks: list[native.Accel]) -> list[int]:
    impacts = []
    for block in blocks:
        n = len(block.xyz)
        t = block.t0 + np.arange(n) * int(1000 / block.hz)
        impacts += [a.impact_ms for a in detector.feed(t, np.asarray(block.xyz))]
    return impacts


def test_the_shipped_model_loads_without_running_code() -> None:
    model = fall_model.load(fall_model.shipped_path("waist"))
    assert model.position == "waist" and len(model.trees) == 100 and 0 < model.threshold < 1


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    model = fall_model.load(fall_model.shipped_path("waist"))
    path = tmp_path / "m.json"
    fall_model.save(model.__class__(features=["peak_g"], trees=model.trees,
                                    threshold=0.5, floor_g=1.5), path)
    with pytest.raises(ValueError, match="features"):
        fall_model.load(path)


@pytest.mark.parametrize("scorer", [
    fall_model.load(fall_model.shipped_path("waist")),
    ThresholdRule(peak_g=2.6, still_g=0.12, tilt_deg=30.0),
], ids=["forest", "rule"])
def test_a_simulated_fall_alerts_once_about_two_seconds_after_the_impact(
    scorer: fall_model.Scorer,
) -> None:
    detector = FallDetector(scorer)
    impacts = _feed(detector, _stream(30, impact_at_s=12))
    assert impacts == [T0 + 12_300]
    assert _feed(FallDetector(scorer), _stream(60, impact_at_s=None)) == []


def test_block_size_does_not_change_the_decision() -> None:
    scorer = fall_model.load(fall_model.shipped_path("waist"))
    blocks = _stream(20, impact_at_s=8, seed=3)
    t = np.concatenate([b.t0 + np.arange(len(b.xyz)) * 50 for b in blocks])
    xyz = np.concatenate([np.asarray(b.xyz) for b in blocks])
    whole = [a.impact_ms for a in FallDetector(scorer).feed(t, xyz)]
    one_by_one: list[int] = []
    detector = FallDetector(scorer)
    for i in range(len(t)):
        one_by_one += [a.impact_ms for a in detector.feed(t[i:i + 1], xyz[i:i + 1])]
    assert whole == one_by_one == [T0 + 8_300]


def test_the_lean_features_say_whether_the_trunk_was_upright_before_and_lying_after() -> None:
    lying = np.array([0.98, 0.05, 0.1])

    def trace(before: np.ndarray) -> np.ndarray:
        xyz = np.vstack([np.tile(before, (PRE, 1)), [[2.2, -1.4, 2.9]],
                         np.tile(lying, (POST + 5, 1))])
        return xyz

    lean = {}
    for name, before in (("from upright", UPRIGHT), ("turning over in bed", lying)):
        xyz = trace(before)
        f = dict(zip(NAMES, window_features(xyz, magnitude(xyz), PRE), strict=True))
        lean[name] = (f["pre_lean_deg"], f["post_lean_deg"])
    assert lean["from upright"][0] < 5 and lean["from upright"][1] > 80
    assert lean["turning over in bed"][0] > 80 and lean["turning over in bed"][1] > 80

"""The wearable loaders read any subject list in the data sets' layout, at one rate."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from edge_agent.falls.features import HZ
from evaluation import sisfall


def test_sisfall_trials_come_at_the_detectors_rate_with_their_labels(tmp_path: Path) -> None:
    (tmp_path / "trials.csv").write_text(
        "trial,subject,age_group,activity_code,activity,is_fall,repetition,n_samples\n"
        "F01_SA90_R01,SA90,young,F01,Fall forward while walking caused by a slip,1,1,500\n"
        "D05_SE90_R01,SE90,elderly,D05,Walking upstairs and downstairs slowly,0,1,500\n")
    rows = ["trial,t_ms,x,y,z"]
    for name in ("F01_SA90_R01", "D05_SE90_R01"):
        for i in range(500):  # 10 s at 50 Hz, upright, one 6 g spike in the fall
            g = 6.0 if name.startswith("F") and i == 250 else 1.0
            rows.append(f"{name},{20 * i},0.000,{-g:.3f},0.000")
    with gzip.open(tmp_path / "sisfall_acc_waist.csv.gz", "wt") as f:
        f.write("\n".join(rows) + "\n")
    adl, fall = sisfall.load(tmp_path)  # in trial order
    assert (fall.trial_id, fall.is_fall, fall.elderly) == ("F01_SA90_R01", True, False)
    assert (adl.subject, adl.is_fall, adl.elderly) == ("SE90", False, True)
    assert adl.activity.startswith("D05 ")
    assert len(fall.t_ms) == 10 * int(HZ) and np.all(np.diff(fall.t_ms) == 1000 / HZ)
    magnitude = np.linalg.norm(fall.xyz, axis=1)
    assert abs(float(np.median(magnitude)) - 1.0) < 0.01  # gravity kept
    assert 4.9 <= float(magnitude.argmax()) / HZ <= 5.1  # the spike stays where it was
    assert [t.subject for t in sisfall.load(tmp_path, {"SE90"})] == ["SE90"]


def test_umafall_waist_and_chest_come_in_the_detectors_frame(tmp_path: Path) -> None:
    from edge_agent.falls.features import UPRIGHT
    from evaluation import umafall

    (tmp_path / "trials.csv").write_text(
        "trial_id,subject,age,is_fall,activity\n7,90,30,0,Walking\n")
    for position in umafall.POSITIONS:  # the SensorTag as worn: +1 g on x when upright
        with gzip.open(tmp_path / f"umafall_acc_{position}.csv.gz", "wt") as f:
            f.write("trial_id,timestamp_ms,sample_no,x_g,y_g,z_g\n"
                    + "".join(f"7,{50 * i},{i},1.0,0.1,0.2\n" for i in range(40)))
    for position in ("chest", "waist"):
        [trial] = umafall.load(tmp_path, position)
        assert np.allclose(trial.xyz[0], [0.1, -1.0, 0.2])  # a quarter turn about z
        assert float(trial.xyz.mean(axis=0) @ UPRIGHT) > 0.97
    [wrist] = umafall.load(tmp_path, "wrist")  # no upright on a wrist: kept as recorded
    assert np.allclose(wrist.xyz[0], [1.0, 0.1, 0.2])

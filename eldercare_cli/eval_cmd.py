"""``eldercare eval`` and ``eldercare train``: detection quality on real labelled data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def register(sub: Any) -> None:
    e: argparse.ArgumentParser = sub.add_parser(
        "eval", help="score the project's detectors on the labelled data sets")
    which = e.add_subparsers(dest="which", required=True,
                             metavar="falls|inactivity|anomalies|alerts|care")
    f = which.add_parser("falls", help="edge fall detector on UMAFall and SisFall, "
                                       "leave-one-subject-out")
    f.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"folder holding the data sets (default {DEFAULT_DATA})")
    f.add_argument("--json", action="store_true", help="last line: one JSON object")
    f.add_argument("--subjects", type=int,
                   help="only the first N subjects of each age group of each set (quick run)")
    f.add_argument("--report", type=Path, default=Path("EVALUATION.md"),
                   help="the document to regenerate (default ./EVALUATION.md)")
    f.set_defaults(handler=_eval_falls)
    i = which.add_parser("inactivity", help="two-tier inactivity detector on every home log "
                                            "(Ordonez, van Kasteren) under --data")
    i.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"folder holding the data sets (default {DEFAULT_DATA})")
    i.add_argument("--json", action="store_true", help="last line: one JSON object")
    i.add_argument("--cuts", type=int, default=200, help="random cut points (default 200)")
    i.add_argument("--report", type=Path, default=Path("EVALUATION.md"))
    i.add_argument("--restart-every-days", type=int, metavar="N",
                   help="rebuild the detector every N days of each log, from its snapshot "
                        "and afresh, beside the figures without restarts")
    i.set_defaults(handler=_eval_inactivity)
    a = which.add_parser("anomalies", help="band novelty detector on NAB")
    a.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help=f"folder holding the data sets (default {DEFAULT_DATA})")
    a.add_argument("--json", action="store_true", help="last line: one JSON object")
    a.add_argument("--series", type=int, help="only the first N series (quick run)")
    a.add_argument("--report", type=Path, default=Path("EVALUATION.md"))
    a.set_defaults(handler=_eval_anomalies)
    al = which.add_parser("alerts", help="the alert core's detector bank on labelled "
                                         "simulator runs (no data set needed)")
    al.add_argument("--json", action="store_true", help="last line: one JSON object")
    al.add_argument("--quick", action="store_true", help="a small run (not stored)")
    al.add_argument("--report", type=Path, default=Path("EVALUATION.md"))
    al.set_defaults(handler=_eval_alerts)
    c = which.add_parser("care", help="visits and daily check-ins on a scripted simulation: "
                                      "every scripted miss raised once, nothing else")
    c.add_argument("--json", action="store_true", help="last line: one JSON object")
    c.add_argument("--quick", action="store_true", help="a small run (not stored)")
    c.add_argument("--report", type=Path, default=Path("EVALUATION.md"))
    c.set_defaults(handler=_eval_care)
    t: argparse.ArgumentParser = sub.add_parser(
        "train", help="train a shipped model from the labelled data")
    twhich = t.add_subparsers(dest="which", required=True, metavar="falls")
    tf = twhich.add_parser("falls", help="the edge fall detector's forest, on all subjects")
    tf.add_argument("--data", type=Path, default=DEFAULT_DATA)
    tf.add_argument("--position", default="waist", choices=["chest", "waist", "wrist"])
    tf.add_argument("--out", type=Path, help="model file (default: the shipped one)")
    tf.set_defaults(handler=_train_falls)


def _missing(folder: Path, marker: str) -> bool:
    if (folder / marker).exists():
        return False
    print(f"error: no data set in {folder} (looked for {marker})", file=sys.stderr)
    return True


def _finish(args: argparse.Namespace, name: str, result: dict[str, Any], full: bool) -> int:
    """Store a full run and regenerate the document; print the table and the JSON line."""
    from evaluation import report

    if full:
        report.store(name, {k: v for k, v in result.items() if k != "false_alarm_times_ms"})
        report.render(args.report)
    print(result["table"])
    if args.json:
        print(json.dumps(result["summary"]))
    return 0


def _eval_falls(args: argparse.Namespace) -> int:
    from evaluation import falls

    if _missing(args.data / "umafall", "trials.csv") or _missing(args.data / "sisfall",
                                                                   "trials.csv"):
        return 1
    result = falls.run_all(args.data, subjects=args.subjects)
    return _finish(args, "falls", result, full=args.subjects is None)


def _eval_inactivity(args: argparse.Namespace) -> int:
    from evaluation import homes, inactivity

    if not homes.find(args.data):
        print(f"error: no home log in {args.data} (looked for *{homes.SENSORS} in it and "
              "its sub-folders)", file=sys.stderr)
        return 1
    if args.restart_every_days is not None:
        if args.restart_every_days < 1:
            print("error: --restart-every-days must be 1 or more", file=sys.stderr)
            return 1
        result = inactivity.run_restarts(args.data, args.restart_every_days, cuts=args.cuts)
        return _finish(args, "inactivity_restarts", result, full=args.cuts >= 200)
    result = inactivity.run(args.data, cuts=args.cuts)
    return _finish(args, "inactivity", result, full=args.cuts >= 200)


def _eval_anomalies(args: argparse.Namespace) -> int:
    from evaluation import nab

    folder = args.data / "nab"
    if _missing(folder, "labels/combined_windows.json"):
        return 1
    result = nab.run(folder, limit=args.series)
    return _finish(args, "anomalies", result, full=args.series is None)


def _train_falls(args: argparse.Namespace) -> int:
    from edge_agent.falls import model as fall_model
    from evaluation import falls, umafall

    # The waist model learns from both sets; SisFall has no other position.
    trials = (falls.load_waist(args.data) if args.position == "waist"
              else umafall.load(args.data / "umafall", args.position))
    forest = falls.fit_forest(trials, args.position)
    out = args.out or fall_model.shipped_path(args.position)
    fall_model.save(forest, out)
    scores = falls.evaluate(trials, lambda tr: falls.fit_forest(tr, args.position))
    metrics = {"position": args.position, "trained_on_trials": len(trials),
               "trained_on_subjects": len({t.subject for t in trials}),
               "threshold": forest.threshold,
               "possible_threshold": forest.possible_threshold,
               "leave_one_subject_out": {"sensitivity": round(scores.sensitivity, 3),
                                         "specificity": round(scores.specificity, 3),
                                         "false_alarms_per_hour_elders":
                                             round(scores.false_alarms_per_hour_elders, 2),
                                         "false_alarms_per_hour":
                                             round(scores.false_alarms_per_hour, 2),
                                         "delay_ms_p50": scores.delay_ms_p50,
                                         "possible_fall_sensitivity":
                                             round(scores.possible_fall_sensitivity, 3),
                                         "falls_added": scores.falls_added,
                                         "prompts_per_hour": round(scores.prompts_per_hour, 2),
                                         "prompts_per_hour_elders":
                                             round(scores.prompts_per_hour_elders, 2)}}
    out.with_suffix(".metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes) and its metrics")
    print(json.dumps(metrics))
    return 0


def _eval_care(args: argparse.Namespace) -> int:
    from evaluation import care

    result = care.evaluate(residents=24, days=35) if args.quick else care.evaluate()
    return _finish(args, "care", result, full=not args.quick)


def _eval_alerts(args: argparse.Namespace) -> int:
    from evaluation import alert_runs

    if args.quick:
        result = alert_runs.evaluate(labelled_homes=5, labelled_days=1, normal_homes=3,
                                     normal_days=1)
    else:
        result = alert_runs.evaluate()
    return _finish(args, "alerts", result, full=not args.quick)

# ruff: noqa: RUF001  (Chinese punctuation is the point)
"""The Chinese desk reads every alert's detail and timeline in Chinese: each form a
detector writes, each timeline word, each response line; English stays as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alerts.model import TimelineEvent
from alerts.notify import texts

ROOT = Path(__file__).resolve().parents[2]

# one of each form the detectors write (alerts/detectors: events, activity, health, vitals,
# usual, multivariate, room, sleep, link, checkin)
DETAILS = {
    "fall reported": "报告跌倒",
    "no check-in between 06:30 and 09:00 (answer, door)":
        "06:30 至 09:00 未报平安（按呼叫器第二键、开大门）",
    "checked in at 11:42 (door)": "11:42 已报平安（门）",
    "visit overdue for 4 days": "探访已逾期 4 天",
    "visited": "已探访",
    "visit due (plan)": "探访已到期（按计划）",
    "round of 02:00: room-101, room-102 not looked in on":
        "02:00 的巡视：room-101, room-102 未巡视",
    "round done": "巡视已完成",
    "2 alarms waiting, nobody on duty": "2 条告警等待处理，无人值班",
    "someone on duty": "已有人值班",
    "no alarm waiting": "无等待的告警",
    "not found at home by visitor-1": "visitor-1 上门未见到老人",
    "door opened at night": "夜间开门",
    "back in bed": "已回床",
    "possible fall not withdrawn within 30 s": "疑似跌倒，30 秒内未撤销",
    "out of bed for 20 min at night": "夜间离床 20 分钟",
    "no activity for 475 min (in_bed)": "475 分钟无活动（在床）",
    "activity again (motion)": "再次有活动（活动）",
    "reported offline by the gateway": "网关报告设备离线",
    "online again": "恢复在线",
    "heard from again": "重新收到数据",
    "silent for 45 min": "45 分钟无数据",
    "battery 9 %": "电量 9 %",
    "gateway offline (last will)": "网关离线（连接中断）",
    "zigbee-coordinator offline": "zigbee-coordinator 离线",
    "vital signs unusual for this resident (score 0.912)": "生命体征与本人平常不同（评分 0.912）",
    "31.5 °C, +4.2 °C from this room's usual": "31.5 °C，比本房间平常 +4.2 °C",
    "recent 96.0 bpm, usual 71.0 bpm at this hour": "近期 96.0 bpm，此时段平常 71.0 bpm",
    "spo2 84.9 %": "血氧 84.9 %",
    "heart_rate 131 bpm": "心率 131 bpm",
    "sos": "呼叫按钮",
    "water_leak": "漏水",
    "the resident answered": "老人已回应",
    "possible fall reported, asked at home": "报告疑似跌倒，已询问老人",
    "cancelled by the resident": "老人自行取消",
    "no activity for 61 min (active); no answer at home within 120 s":
        "61 分钟无活动（活动中），询问老人 120 秒内无回应",
    "in bed, no breathing or heart rate for 180 s": "在床，180 秒未测到呼吸心跳",
    "breathing seen again": "重新测到呼吸",
    "out of bed": "已离床",
    "the daily test alarm due at 03:17 UTC did not arrive": "每日测试报警（UTC 03:17）未到达",
    "test alarm arrived": "测试报警已到达",
}


@pytest.mark.parametrize(("english", "chinese"), DETAILS.items())
def test_each_detail_form_reads_in_chinese(english: str, chinese: str) -> None:
    assert texts.detail(english, "zh") == chinese
    assert texts.detail(english, "en") in (english, english.replace("spo2", "SpO2")
                                           .replace("heart_rate", "heart rate"))


def test_the_detector_detail_forms_are_the_ones_listed() -> None:
    """A new literal detail in a detector must get its Chinese words (and a line above)."""
    literals = set()
    for path in (ROOT / "alerts" / "detectors").glob("*.py"):
        literals |= set(re.findall(r'_signal\([^"]*?(?<!f)"([a-z][a-z ]*[a-z])"', path.read_text()))
    assert {"fall reported", "door opened at night", "online again"} <= literals
    assert literals <= set(DETAILS), sorted(literals - set(DETAILS))


def test_timeline_words_and_lines_read_in_both_languages() -> None:
    i18n = (ROOT / "dashboard" / "static" / "i18n.js").read_text()
    zh, en = i18n.split("\n  en: {")
    for event in TimelineEvent:
        assert f"tl_{event.value}:" in zh and f"tl_{event.value}:" in en, event
    lines = {"step 0 family #1 by sms": "第 1 步：家属 #2（sms）",
             "staff: Test Nurse On Duty": "值班人员：Test Nurse On Duty",
             "family: Test Family B (phoned)": "家属：Test Family B（电话）",
             "staff: Test Nurse On Duty, sent 30 min ago":
                 "值班人员：Test Nurse On Duty，30 分钟前派出",
             "neither a responder sent nor resolved; 2 escalation steps go on":
                 "既未派人也未解除；2 个升级步骤继续",
             "no_injury_helped_up: helped up": "未受伤，已扶起：helped up",
             "the resident's own words": "the resident's own words"}
    for english, chinese in lines.items():
        assert texts.timeline_detail(english, "zh") == chinese
    assert texts.timeline_detail("no_injury_helped_up: ok", "en") == "no injury, helped up: ok"

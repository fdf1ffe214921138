# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""What a notice says, in the recipient's language (Chinese and English).

A family SMS names the resident as the family knows them, what happened, where and when,
and how to answer; nothing more. A rescue notice carries what a dispatcher needs: who,
where (address, room), what, since when, and the medical notes.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from alerts.model import Condition

LANGUAGES = ("zh", "en")

_WHAT: dict[Condition, tuple[str, str]] = {
    Condition.FALL: ("疑似跌倒", "a possible fall"),
    Condition.SOS: ("按下了紧急呼叫", "an SOS call"),
    Condition.WATER_LEAK: ("漏水", "a water leak"),
    Condition.TAMPER: ("设备被拆动", "a device tampered with"),
    Condition.BED_EXIT_NIGHT: ("夜间离床未归", "out of bed at night, not back"),
    Condition.NIGHT_WANDERING: ("夜间开门外出", "a door opened at night"),
    Condition.HEART_RATE_HIGH: ("心率过高", "a high heart rate"),
    Condition.HEART_RATE_LOW: ("心率过低", "a low heart rate"),
    Condition.RESPIRATION_HIGH: ("呼吸过快", "fast breathing"),
    Condition.RESPIRATION_LOW: ("呼吸过慢", "very slow breathing"),
    Condition.SPO2_LOW: ("血氧偏低", "low blood oxygen"),
    Condition.SKIN_TEMPERATURE_HIGH: ("体温偏高", "a raised temperature"),
    Condition.HEART_RATE_ABOVE_USUAL: ("心率高于平时", "a heart rate above usual"),
    Condition.SKIN_TEMPERATURE_ABOVE_USUAL: ("体温高于平时", "a temperature above usual"),
    Condition.VITALS_ANOMALY: ("生命体征异常", "unusual vital signs"),
    Condition.INACTIVITY: ("长时间无活动", "no activity for a long time"),
    Condition.INACTIVITY_CHECK: ("活动少于平时，请确认", "less activity than usual: please check"),
    Condition.INACTIVITY_ANSWERED: ("活动少于平时，已询问老人，老人已回应",
                                    "less activity than usual: asked at home, answered"),
    Condition.POSSIBLE_FALL_ANSWERED: ("疑似跌倒，已询问老人，老人已回应",
                                       "a possible fall: asked at home, answered"),
    Condition.DEVICE_SILENT: ("设备离线", "a device offline"),
    Condition.NO_VITAL_SIGNS: ("在床，未测到呼吸心跳", "in bed, no breathing or heart rate seen"),
    Condition.LOW_BATTERY: ("设备电量低", "a device battery low"),
    Condition.GATEWAY_OFFLINE: ("网关离线", "the home gateway offline"),
    Condition.ROOM_TEMPERATURE_ANOMALY: ("室温异常", "an unusual room temperature"),
    Condition.RADIO_OFFLINE: ("网关无线模块离线，跌倒和呼叫按钮失效",
                              "the gateway's radio down: fall sensors and call buttons deaf"),
    Condition.LINK_TEST_MISSED: ("网关每日测试报警未到达，线路故障",
                                 "the gateway's daily test alarm did not arrive: link fault"),
    Condition.CHECKIN_MISSED: ("今天尚未报平安，请确认", "no daily check-in yet: please check"),
    Condition.VISIT_DUE: ("探访已到期", "a visit due"),
    Condition.VISIT_OVERDUE: ("探访逾期", "a visit overdue"),
    Condition.VISIT_NOT_FOUND: ("上门探访未见到老人", "not found at home on a visit"),
    Condition.ROUND_MISSED: ("巡视未按时完成", "a round not done in time"),
    Condition.NOBODY_ON_DUTY: ("有告警等待，但无人值班", "alarms waiting, nobody on duty"),
    Condition.REQUEST_MEAL: ("送餐服务", "meal"),
    Condition.REQUEST_CLEANING: ("保洁服务", "cleaning"),
    Condition.REQUEST_HEALTH_VISIT: ("健康上门", "health visit"),
    Condition.REQUEST_ACCOMPANY: ("陪同就医", "accompany to hospital"),
    Condition.REQUEST_REPAIR: ("维修服务", "repair"),
    Condition.REQUEST_OTHER: ("其他服务", "other request"),
}


def what(condition: Condition, language: str) -> str:
    zh, en = _WHAT[condition]
    return zh if language == "zh" else en


def local_time(t_ms: int, utc_offset_min: int) -> str:
    at = datetime.datetime.fromtimestamp(t_ms / 1000 + utc_offset_min * 60, tz=datetime.UTC)
    return at.strftime("%H:%M")


def reference(alert_id: int) -> str:
    """The alert's short reference in an SMS: a reply carrying it answers that alert, also
    when one phone is the contact of two residents with alarms open at once."""
    return f"A{alert_id}"


def family_sms(*, language: str, resident: str, condition: Condition, room: str,
               since: str, ref: str) -> str:
    if language == "zh":
        return (f"【颐养监护】{resident}{what(condition, 'zh')}（{room}，{since}起）。"
                f"值班台尚未处理。回复“1 {ref}”或“是 {ref}”表示您已知晓并处理。")
    return (f"Eldercare: {resident}: {what(condition, 'en')} ({room}, since {since}). "
            f"The duty desk has not taken it yet. Reply 1 {ref} or YES {ref} if you are "
            f"handling it.")


def visitor_sms(*, language: str, resident: str, room: str, address: str) -> str:
    """A visitor's reminder: a visit of theirs is due."""
    where = ", ".join(p for p in (room, address) if p)
    if language == "zh":
        return (f"【颐养监护】探访提醒：{resident}（{where}）的探访已到期，"
                f"请尽快上门或电话探访，并在探访页面记录。")
    return (f"Eldercare: a visit to {resident} ({where}) is due. Please visit or phone soon "
            f"and record it on the visits page.")


def which_alert(language: str, open_alerts: list[tuple[str, str, Condition]]) -> str:
    """The answer to a bare yes from a phone that was texted about several open alarms:
    which one? ``open_alerts``: (reference, resident, condition) each."""
    if language == "zh":
        listed = "；".join(f"{ref}：{name}{what(c, 'zh')}" for ref, name, c in open_alerts)
        return (f"【颐养监护】您有{len(open_alerts)}条未处理的警报（{listed}）。"
                f"请回复“1”加编号，例如“1 {open_alerts[0][0]}”。")
    listed = "; ".join(f"{ref}: {name}, {what(c, 'en')}" for ref, name, c in open_alerts)
    return (f"Eldercare: {len(open_alerts)} alarms are open for you ({listed}). Reply 1 and "
            f"the reference, e.g. 1 {open_alerts[0][0]}.")


# The only replies that acknowledge an alert: what the SMS above asks for, and nothing
# else. "I can't come", "who is this?" or a carrier's auto-reply must not stop the chain.
_YES = frozenset({"1", "yes", "y", "是", "是的"})
_IGNORED = " \t\r\n.。!！,，'\"“”‘’"


_REFERENCE = re.compile(r"(?<![0-9A-Za-z])[Aa](\d{1,15})(?![0-9A-Za-z])")


def is_yes(reply: str) -> bool:
    """True when an SMS reply is an explicit yes ("1", "YES", "是"), in any case/spacing."""
    return reply.strip(_IGNORED).casefold() in _YES


def parse_reply(reply: str) -> tuple[bool, int | None]:
    """(an explicit yes?, the alert its reference names, if any): "1 A7", "yes a7",
    "A7 是" are a yes to alert 7; a bare "1" names none."""
    found = _REFERENCE.search(reply)
    if found is None:
        return is_yes(reply), None
    rest = f"{reply[:found.start()]} {reply[found.end():]}"
    return is_yes(rest), int(found.group(1))


def rescue_summary(*, language: str, resident: str, condition: Condition, address: str,
                   room: str, since: str, medical_notes: str) -> str:
    if language == "zh":
        return (f"紧急救援：{resident}，{what(condition, 'zh')}，地址：{address} {room}，"
                f"{since}起，无人响应。病史：{medical_notes or '无'}")
    return (f"Emergency: {resident}, {what(condition, 'en')}, at {address} {room}, since "
            f"{since}, no response. Medical notes: {medical_notes or 'none'}")


RESCUE_NAME = ("Emergency centre", "急救中心")  # indexed by "is Chinese"


def dispatch_sms(*, language: str, responder: str, resident: str, condition: Condition,
                 address: str, room: str, access: str, since: str, ref: str) -> str:
    """A responder sent to an alarm: who, where, what and since when, and the reply codes
    (``parse_dispatch_reply``). Never a key code: an SMS may be read over a shoulder."""
    if language == "zh":
        where = "，".join(x for x in (address, room) if x)
        notes = f"（{access}）" if access else ""
        return (f"【颐养监护】{responder}，请前往：{resident}，{what(condition, 'zh')}，"
                f"{where}{notes}，{since}起。回复“1 {ref}”出发，“2 {ref}”已到达，"
                f"“9 {ref}”无法前往。")
    where = ", ".join(x for x in (address, room) if x)
    notes = f" ({access})" if access else ""
    return (f"Eldercare: {responder}, please go to {resident}: {what(condition, 'en')} at "
            f"{where}{notes}, since {since}. Reply 1 {ref} on my way, 2 {ref} arrived, "
            f"9 {ref} cannot come.")


def which_dispatch(language: str, refs: list[str]) -> str:
    """The answer to a bare reply code from a responder sent to several alarms."""
    if language == "zh":
        return (f"【颐养监护】您被派往多处（{'、'.join(refs)}），请在代码后加编号，"
                f"例如“2 {refs[0]}”。")
    return (f"Eldercare: you were sent to several alarms ({', '.join(refs)}): add the "
            f"reference to the code, e.g. 2 {refs[0]}.")


# A responder's reply codes (in the dispatch SMS): on my way, arrived, cannot come.
DISPATCH_CODES = {"1": "on_the_way", "2": "arrived", "9": "cannot_come"}


def parse_dispatch_reply(reply: str) -> tuple[str | None, int | None]:
    """(the dispatch step a reply code means, or None; the alert its reference names, if
    any): "2 A7" is arrived at alert 7's, a bare "9" cannot come, "on my way" none."""
    found = _REFERENCE.search(reply)
    rest = reply if found is None else f"{reply[:found.start()]} {reply[found.end():]}"
    return DISPATCH_CODES.get(rest.strip(_IGNORED)), None if found is None \
        else int(found.group(1))


_OUTCOMES: dict[str, tuple[str, str]] = {
    "injured_hospital": ("受伤，送医", "injured, taken to hospital"),
    "injured_treated_on_site": ("受伤，现场处理", "injured, treated on site"),
    "no_injury_helped_up": ("未受伤，已扶起", "no injury, helped up"),
    "resident_fine_false_alarm": ("老人无恙，误报", "resident fine, false alarm"),
    "device_fault": ("设备故障", "device fault"),
    "test": ("测试", "test"),
    "other": ("其他（需备注）", "other (with a note)"),
    "request_done": ("已完成", "done"),
    "request_partly_done": ("部分完成", "partly done"),
    "request_declined": ("老人不再需要", "declined by the resident"),
    "request_cancelled": ("已取消", "cancelled"),
    "cancelled_by_resident": ("老人自行取消", "cancelled by the resident"),
}


def outcome(value: str, language: str) -> str:
    """An outcome's (``alerts.model.Outcome``) words in ``language``."""
    zh, en = _OUTCOMES.get(value, (value, value))
    return zh if language == "zh" else en


# What a reading's kind is called on the desk (a detail names kinds: "spo2 84.9 %").
_KINDS: dict[str, tuple[str, str]] = {
    "heart_rate": ("心率", "heart rate"), "respiration_rate": ("呼吸", "respiration"),
    "spo2": ("血氧", "SpO2"), "skin_temperature": ("体温", "temperature"),
    "room_temperature": ("室温", "room temperature"), "sos": ("呼叫按钮", "SOS button"),
    "water_leak": ("漏水", "water leak"), "tamper": ("防拆", "tamper"),
    "door": ("门", "door"), "motion": ("活动", "motion"), "presence": ("有人", "presence"),
    "bed_occupancy": ("在床", "in bed"), "seat_occupancy": ("在座", "seated"),
    "appliance": ("电器使用", "appliance in use"), "fall": ("跌倒", "fall"),
    "answer": ("老人回应", "the resident's answer"),
    "battery": ("电量", "battery"),
}
_WHY = {"plan": "按计划"}
_MEANS = {"answer": "按呼叫器第二键", "door": "开大门", "activity": "任何活动"}


def _means(listed: str) -> str:
    return "、".join(_MEANS.get(m, m) for m in listed.split(", "))


_CONTEXTS = {"active": "活动中", "seated": "坐着", "in_bed": "在床", "away": "外出"}


def _kind(value: str, language: str) -> str:
    zh, en = _KINDS.get(value, (value, value))
    return zh if language == "zh" else en


# Every form of an alert's detail the detectors write (English, as stored), and its words
# in Chinese; tests/alerts/test_detail_texts.py holds one example of each.
_DETAILS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^fall reported$"), lambda m: "报告跌倒"),
    (re.compile(r"^door opened at night$"), lambda m: "夜间开门"),
    (re.compile(r"^back in bed$"), lambda m: "已回床"),
    (re.compile(r"^possible fall not withdrawn within (\d+) s$"),
     lambda m: f"疑似跌倒，{m[1]} 秒内未撤销"),
    (re.compile(r"^out of bed for (\d+) min at night$"), lambda m: f"夜间离床 {m[1]} 分钟"),
    (re.compile(r"^no activity for (\d+) min \((\w+)\)$"),
     lambda m: f"{m[1]} 分钟无活动（{_CONTEXTS.get(m[2], m[2])}）"),
    (re.compile(r"^activity again \((\w+)\)$"), lambda m: f"再次有活动（{_kind(m[1], 'zh')}）"),
    (re.compile(r"^no activity for (\d+) min \((\w+)\); no answer at home within (\d+) s$"),
     lambda m: f"{m[1]} 分钟无活动（{_CONTEXTS.get(m[2], m[2])}），询问老人 {m[3]} 秒内无回应"),
    (re.compile(r"^asked at home after (\d+) min without activity$"),
     lambda m: f"{m[1]} 分钟无活动，已询问老人"),
    (re.compile(r"^the resident answered$"), lambda m: "老人已回应"),
    (re.compile(r"^possible fall reported, asked at home$"), lambda m: "报告疑似跌倒，已询问老人"),
    (re.compile(r"^in bed, no breathing or heart rate for (\d+) s$"),
     lambda m: f"在床，{m[1]} 秒未测到呼吸心跳"),
    (re.compile(r"^breathing seen again$"), lambda m: "重新测到呼吸"),
    (re.compile(r"^the daily test alarm due at (\d\d:\d\d) UTC did not arrive$"),
     lambda m: f"每日测试报警（UTC {m[1]}）未到达"),
    (re.compile(r"^test alarm arrived$"), lambda m: "测试报警已到达"),
    (re.compile(r"^no check-in between (\d\d:\d\d) and (\d\d:\d\d) \(([\w, ]+)\)$"),
     lambda m: f"{m[1]} 至 {m[2]} 未报平安（{_means(m[3])}）"),
    (re.compile(r"^visit overdue for (\d+) days$"), lambda m: f"探访已逾期 {m[1]} 天"),
    (re.compile(r"^visit due \((.+)\)$"), lambda m: f"探访已到期（{_WHY.get(m[1], m[1])}）"),
    (re.compile(r"^visited$"), lambda m: "已探访"),
    (re.compile(r"^round of (\d\d:\d\d): (.+) not looked in on$"),
     lambda m: f"{m[1]} 的巡视：{m[2]} 未巡视"),
    (re.compile(r"^round done$"), lambda m: "巡视已完成"),
    (re.compile(r"^(\d+) alarms waiting, nobody on duty$"),
     lambda m: f"{m[1]} 条告警等待处理，无人值班"),
    (re.compile(r"^someone on duty$"), lambda m: "已有人值班"),
    (re.compile(r"^no alarm waiting$"), lambda m: "无等待的告警"),
    (re.compile(r"^not found at home by (\S+)$"), lambda m: f"{m[1]} 上门未见到老人"),
    (re.compile(r"^checked in at (\d\d:\d\d) \((\w+)\)$"),
     lambda m: f"{m[1]} 已报平安（{_kind(m[2], 'zh')}）"),
    (re.compile(r"^out of bed$"), lambda m: "已离床"),
    (re.compile(r"^cancelled by the resident$"), lambda m: "老人自行取消"),
    (re.compile(r"^reported offline by the gateway$"), lambda m: "网关报告设备离线"),
    (re.compile(r"^online again$"), lambda m: "恢复在线"),
    (re.compile(r"^heard from again$"), lambda m: "重新收到数据"),
    (re.compile(r"^silent for (\d+) min$"), lambda m: f"{m[1]} 分钟无数据"),
    (re.compile(r"^battery (\d+) %$"), lambda m: f"电量 {m[1]} %"),
    (re.compile(r"^gateway offline \(last will\)$"), lambda m: "网关离线（连接中断）"),
    (re.compile(r"^(\S+) (offline|online again)$"),
     lambda m: f"{m[1]} {'离线' if m[2] == 'offline' else '恢复在线'}"),
    (re.compile(r"^vital signs unusual for this resident \(score ([\d.]+)\)$"),
     lambda m: f"生命体征与本人平常不同（评分 {m[1]}）"),
    (re.compile(r"^([\d.-]+) °C, ([+-][\d.]+) °C from this room's usual$"),
     lambda m: f"{m[1]} °C，比本房间平常 {m[2]} °C"),
    (re.compile(r"^recent ([\d.-]+) (\S+), usual ([\d.-]+) (\S+) at this hour$"),
     lambda m: f"近期 {m[1]} {m[2]}，此时段平常 {m[3]} {m[4]}"),
    (re.compile(r"^(\w+) ([\d.e+-]+) (.*)$"), lambda m: f"{_kind(m[1], 'zh')} {m[2]} {m[3]}"),
    (re.compile(r"^(\w+)$"), lambda m: _kind(m[1], "zh")),
]


def detail(text: str, language: str) -> str:
    """An alert's detail (as a detector wrote it) in ``language``; a form not known here
    stays as written (the desk still shows it)."""
    if language != "zh":
        found = re.match(r"^(\w+) ([\d.e+-]+) (.*)$", text)
        return f"{_kind(found[1], 'en')} {found[2]} {found[3]}" \
            if found and found[1] in _KINDS else text
    return _words(_DETAILS, text)


Forms = list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]]


def _words(forms: Forms, text: str) -> str:
    """The words of the first form ``text`` matches; else ``text`` as written."""
    for pattern, words in forms:
        found = pattern.match(text)
        if found:
            return words(found)
    return text


_ROLES = {"family": ("家属", "family"), "keyholder": ("钥匙保管人", "key-holder"),
          "staff": ("值班人员", "staff"), "community_worker": ("社区工作者", "community worker")}
_TIMELINE: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^step (\d+) family #(\d+) by (\w+)$"),
     lambda m: f"第 {int(m[1]) + 1} 步：家属 #{int(m[2]) + 1}（{m[3]}）"),
    (re.compile(r"^step (\d+) rescue #\d+ by (\w+)$"),
     lambda m: f"第 {int(m[1]) + 1} 步：急救中心（{m[2]}）"),
    (re.compile(r"^neither a responder sent nor resolved; (\d+) escalation steps go on$"),
     lambda m: f"既未派人也未解除；{m[1]} 个升级步骤继续"),
    (re.compile(r"^(\w+): (.+), sent (\d+) min ago$"),
     lambda m: f"{_ROLES.get(m[1], (m[1],))[0]}：{m[2]}，{m[3]} 分钟前派出"),
    (re.compile(r"^(\w+): (.+?)( \(phoned\))?$"),
     lambda m: (f"{_ROLES[m[1]][0]}：{m[2]}{'（电话）' if m[3] else ''}" if m[1] in _ROLES
                else f"{outcome(m[1], 'zh')}：{m[2]}" if m[1] in _OUTCOMES else m[0])),
    (re.compile(r"^(\w+)$"), lambda m: outcome(m[1], "zh") if m[1] in _OUTCOMES else m[0]),
    (re.compile(r"^from (.+)$"), lambda m: f"来自 {m[1]}"),
    (re.compile(r"^to (.+)$"), lambda m: f"交给 {m[1]}"),
    (re.compile(r"^signed out$"), lambda m: "已退出登录"),
]


def timeline_detail(text: str, language: str) -> str:
    """A timeline line's detail in ``language`` (a form not known here stays as written:
    a person's note, an SMS reply)."""
    if language != "zh":
        found = re.match(r"^(\w+)(: .*)?$", text)
        if found and found[1] in _OUTCOMES:
            return outcome(found[1], "en") + (found[2] or "")
        return text
    return _words(_TIMELINE, text)

"""``kefu demo --locale zh-CN``'s department data: the same customers, orders and calls as
the English demo (the same draws), told in Chinese: names in characters, companies,
products, call-center agents and notes; and the demo's rules and saga in Chinese."""

from __future__ import annotations

import re

from kefu.demo import DEMO_RULES, demo_rules
from kefu.demo_systems.dataset import build_dataset
from kefu.demo_systems.refund_saga import demo_sagas
from kefu.demo_texts import CHINESE, ENGLISH, localized_sagas

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_the_chinese_dataset_is_the_english_one_in_chinese_words() -> None:
    en, zh = build_dataset(), build_dataset(locale="zh-CN")
    assert build_dataset(locale="zh-CN") == zh  # deterministic
    key = [(c.customer_key, c.email, c.phone, c.tier, c.locale) for c in en.customers]
    assert [(c.customer_key, c.email, c.phone, c.tier, c.locale) for c in zh.customers] == key
    assert [(o.order_no, o.status, o.total, o.currency) for o in zh.orders] == [
        (o.order_no, o.status, o.total, o.currency) for o in en.orders
    ]
    assert [(c.call_id, c.outcome, c.duration_seconds) for c in zh.calls] == [
        (c.call_id, c.outcome, c.duration_seconds) for c in en.calls
    ]
    first = zh.customer("C1001")
    assert first is not None and (first.name, first.company) == ("李伟", "上海兰亭贸易有限公司")
    for english, chinese in zip(en.customers, zh.customers, strict=True):
        if english.locale == "zh-CN":
            assert HAN.fullmatch(chinese.name[0]) and " " not in chinese.name, chinese.name
        else:
            assert chinese.name == english.name  # a foreign customer keeps their name
        assert chinese.company is None or HAN.search(chinese.company)
    assert all(HAN.search(line.name) for o in zh.orders for line in o.lines)
    assert all(HAN.search(call.agent) for call in zh.calls)
    assert all(HAN.search(call.notes) for call in zh.calls if call.notes)


def test_the_chinese_rules_and_saga_speak_chinese() -> None:
    assert demo_rules(ENGLISH) == DEMO_RULES
    rules = demo_rules(CHINESE)
    assert rules[1]["do"][0]["create_ticket"]["subject"] == "投诉：{data.summary}"  # noqa: RUF001
    assert DEMO_RULES[1]["do"][0]["create_ticket"]["subject"] == "Complaint: {data.summary}"
    english = demo_sagas("http://127.0.0.1:9")
    chinese = localized_sagas(english, CHINESE)
    assert localized_sagas(english, ENGLISH) == english
    steps = chinese["refund"]["steps"]
    assert chinese["refund"]["title"] == "订单退款" and all(HAN.search(s["title"]) for s in steps)
    # Only words changed: the same steps, actions and compensations.
    assert [s["name"] for s in steps] == [s["name"] for s in english["refund"]["steps"]]
    assert steps[0]["action"] == english["refund"]["steps"][0]["action"]

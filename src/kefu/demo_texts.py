# Chinese demo texts use Chinese punctuation on purpose.
# ruff: noqa: RUF001
"""What ``kefu demo`` writes as the shop's own data, per ``--locale``: the agents' names,
canned replies, the auto-reply, the rules' ticket and notification texts, the refund
saga's titles and ticket note. English is the default demo; ``zh-CN`` is a Chinese shop
(a Chinese team would type these themselves, so they are data, not kefu's catalog).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Final

LOCALES: Final = ("en", "zh-CN")


@dataclass(frozen=True, slots=True)
class DemoTexts:
    shop_name: str
    agent_names: dict[str, str]  # login email -> display name
    canned: tuple[tuple[str, str, str], ...]  # shortcut, title, body
    auto_reply_keywords: tuple[str, ...]
    auto_reply: str
    vip_notice: str
    complaint_subject: str
    complaint_notice: str
    saga: dict[str, str] = field(default_factory=dict)  # the refund saga's words (zh-CN)


ENGLISH = DemoTexts(
    shop_name="Demo shop",
    agent_names={
        "admin@kefu.demo": "Ada Admin",
        "supervisor@kefu.demo": "Sam Supervisor",
        "agent@kefu.demo": "Alex Agent",
        "agent2@kefu.demo": "Bea Agent",
    },
    canned=(
        ("hello", "Greeting", "Hello! How can I help you today?"),
        ("order", "Order status", "Let me look up your order. Could you give me the order number?"),
        ("refund", "Refund policy", "Refunds reach your account 3-5 business days after approval."),
        ("bye", "Closing", "Thanks for contacting us. Have a great day!"),
    ),
    auto_reply_keywords=("opening hours", "open today"),
    auto_reply="We are open Monday to Friday, 9:00-18:00. An agent will confirm shortly.",
    vip_notice="{customer.name|A customer} ({customer_key}) is now VIP: their chats go first",
    complaint_subject="Complaint: {data.summary}",
    complaint_notice="Complaint from {customer.name|a customer} ({customer_key}): {data.summary}",
)

CHINESE = DemoTexts(
    shop_name="北风户外",
    agent_names={
        "admin@kefu.demo": "陈静",
        "supervisor@kefu.demo": "孙明",
        "agent@kefu.demo": "李娜",
        "agent2@kefu.demo": "赵磊",
    },
    canned=(
        ("hello", "问候", "您好！请问有什么可以帮您？"),
        ("order", "订单查询", "我来帮您查一下订单，麻烦提供一下订单号好吗？"),
        ("refund", "退款政策", "退款审核通过后，款项会在 3-5 个工作日内退回您的账户。"),
        ("bye", "结束语", "感谢您的咨询，祝您生活愉快！"),
    ),
    auto_reply_keywords=("营业时间", "几点上班", "今天营业"),
    auto_reply="我们的营业时间是周一至周五 9:00-18:00，客服稍后会为您确认。",
    vip_notice="{customer.name|一位客户}（{customer_key}）已升级为 VIP：其会话将优先处理",
    complaint_subject="投诉：{data.summary}",
    complaint_notice="来自{customer.name|一位客户}（{customer_key}）的投诉：{data.summary}",
    saga={
        "title": "订单退款",
        "refund_order": "将订单标记为已退款",
        "take_back_points": "扣回会员积分",
        "log_call_note": "在呼叫中心记录退款",
        "comment_ticket": "在工单上备注退款",
        "note": (
            "已为订单 {input.order_id} 退款 {steps.refund_order.amount}（原因：{input.reason}）；"
            "扣回 {steps.take_back_points.points_taken} 会员积分；"
            "呼叫中心备注 {steps.log_call_note.note_id}。"
        ),
        "subject": "订单 {input.order_id} 退款",
    },
)


def demo_texts(locale: str) -> DemoTexts:
    return CHINESE if locale == "zh-CN" else ENGLISH


def localized_sagas(sagas: dict[str, Any], texts: DemoTexts) -> dict[str, Any]:
    """The demo's refund saga with its titles and ticket note in the demo's language
    (names, actions and compensations unchanged)."""
    if not texts.saga:
        return sagas
    sagas = copy.deepcopy(sagas)
    for saga in sagas.values():
        saga["title"] = texts.saga["title"]
        for step in saga["steps"]:
            step["title"] = texts.saga.get(step["name"], step["title"])
            if step["action"].get("op") == "ticket_comment":
                step["action"]["body"] = texts.saga["note"]
                step["action"]["create_if_missing"]["subject"] = texts.saga["subject"]
    return sagas

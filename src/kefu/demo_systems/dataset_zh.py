# Chinese demo data uses Chinese punctuation on purpose.
# ruff: noqa: RUF001
"""The words of the demo dataset for ``kefu demo --locale zh-CN``: the same customers,
orders and calls (the same random draws, so "C1001" is still the rich VIP with 4 orders
and 3 calls), told as a Chinese shop's systems would store them: names in Chinese
characters, Chinese companies, products, call-center agents and notes.

Every table lines up index for index with its English one in ``dataset.py``: a draw picks
the same position in either language.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Words:
    """What ``build_dataset`` writes, in one language."""

    chinese_family: tuple[str, ...]  # as displayed; pinyin stays for e-mail addresses
    chinese_given: tuple[str, ...]
    name_separator: str  # "Li Wei" in pinyin, "李伟" in characters
    companies: tuple[str, ...]
    product_names: dict[str, str]  # sku -> name; an sku missing keeps the English name
    agents: tuple[str, ...]
    notes: tuple[str, ...]


FAMILY = tuple("李王张刘陈杨赵黄周吴徐孙马朱胡郭罗")
GIVEN = tuple("伟芳敏静磊洋军秀涛娜浩颖梅平雪强艳")
COMPANIES = (
    "上海兰亭贸易有限公司",
    "杭州金鱼科技有限公司",
    "北风贸易",
    "康拓有限公司",
    "法布里坎公司",
    "蓝港物流",
    "深圳鑫达电子有限公司",
    "博文办公用品",
    "成都熊猫食品有限公司",
    "大世界进出口",
    "北京云帆传媒",
)
PRODUCTS = {
    "KB-87-RGB": "机械键盘（87 键）",
    "MS-WL-02": "无线鼠标",
    "HP-NC-700": "降噪耳机",
    "CB-USBC-2M": "USB-C 数据线 2 米",
    "MN-27-4K": "27 英寸 4K 显示器",
    "DK-TB4": "雷电 4 扩展坞",
    "LS-AL": "铝合金笔记本支架",
    "WC-1080": "1080p 摄像头",
    "SSD-1T": "1 TB 移动固态硬盘",
    "PB-20K": "20000 毫安充电宝",
}
AGENTS = ("王晓玲", "唐贝克", "陈宇", "安娜", "刘杰", "罗玛丽")
# As agents type them: ampersands, angle brackets, quotes and currency signs included.
NOTES = (
    "客户询问订单 {order} 的物流，已告知快递单号。",
    "{sku} 申请退款：到货损坏 & 外箱压坏。",
    "开票：已更新发票抬头和税号。",
    "要求比价（竞品便宜 < ¥50）；已婉拒。",
    "下次下单想要“加急”配送。",
    "重置商城账号密码；已短信验证。",
    "投诉配送延迟 >3 天；已发放优惠券。",
    "回访推荐：对 {sku} 感兴趣，下周决定。",
)

CHINESE = Words(
    chinese_family=FAMILY,
    chinese_given=GIVEN,
    name_separator="",
    companies=COMPANIES,
    product_names=PRODUCTS,
    agents=AGENTS,
    notes=NOTES,
)

"""What benchmarks submit: realistic Persian complaints, reproducible by index."""

from __future__ import annotations

import random
from typing import Any

# Realistic Persian complaints, mixed categories, as citizens type them (ی/ي, digits in both scripts).
COMPLAINTS = (
    "چراغ‌های کوچه ما سه شب است خاموش است و شب‌ها خیلی تاریک است",
    "سطل زباله سر کوچه پر شده و بوی بدی می‌دهد، لطفا رسیدگی کنید",
    "یک چاله بزرگ وسط خیابان اصلی هست که ماشین‌ها داخلش می‌افتند",
    "درخت بزرگ پارک محله شکسته و شاخه‌هایش روی وسایل بازی افتاده",
    "جوی آب جلوی خانه ما گرفته و بعد از باران آبگرفتگی شده",
    "دستفروش‌ها پیاده‌رو را کامل بسته‌اند و عابر باید از خیابان رد شود",
    "بوی گاز شدیدی در کوچه ۱۲ می‌آید لطفا سریع اقدام کنید",
    "صدای بلند کارگاه تا نیمه شب ادامه دارد و نمی‌توانیم بخوابیم",
    "ایستگاه اتوبوس سایه‌بان ندارد و نیمکتش شکسته است",
    "سگ‌های ولگرد در پارک به بچه‌ها حمله می‌کنند",
)


def complaint_body(i: int) -> dict[str, Any]:
    """The ``i``-th complaint of a run (reproducible across runs)."""
    rng = random.Random(i)
    return {
        "text": COMPLAINTS[i % len(COMPLAINTS)],
        "phone": f"0912{rng.randrange(10**7):07d}",
        "district": str(1 + i % 12),
        "channel": "web",
    }

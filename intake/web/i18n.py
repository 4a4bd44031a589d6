"""The pages' words in Persian and English, Persian digits and Jalali dates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import jdatetime
from fastapi import Request

from services.stats import CITY_OFFSET
from services.text import to_persian_digits

Lang = Literal["fa", "en"]
COOKIE = "pasokh_lang"

# key → (Persian, English)
WORDS: dict[str, tuple[str, str]] = {
    "site": ("پاسخ — سامانه رسیدگی به شکایات شهری", "Pasokh — city complaints"),
    "brand": ("پاسخ", "Pasokh"),
    "skip": ("پرش به محتوا", "Skip to content"),
    "nav.submit": ("ثبت شکایت", "Submit a complaint"),
    "nav.track": ("پیگیری", "Track"),
    "nav.transparency": ("آمار شفافیت", "Transparency"),
    "nav.console": ("میز کارکنان", "Staff console"),
    "switch": ("English", "فارسی"),
    "submit.title": ("ثبت شکایت یا درخواست", "Submit a complaint"),
    "submit.intro": (
        "مشکل را بنویسید و مکان آن را مشخص کنید. پس از ثبت، کد رهگیری دریافت می‌کنید.",
        "Describe the problem and where it is. You get a tracking code once it is recorded.",
    ),
    "f.text": ("شرح مشکل", "What is the problem?"),
    "f.text.help": (
        "مثلاً: چراغ‌های کوچه سه شب است خاموش است",
        "e.g. the street lights have been off for three nights",
    ),
    "f.district": ("منطقه شهرداری", "Municipal district"),
    "f.district.help": ("شماره یا نام منطقه، مثلاً ۳", "Number or name of the district, e.g. 3"),
    "f.address": ("نشانی", "Address"),
    "f.address.help": ("خیابان، کوچه، نشانه نزدیک", "Street, alley, a landmark nearby"),
    "f.place": ("مکان", "Place"),
    "f.place.help": (
        "منطقه یا نشانی را بنویسید؛ اگر مختصات را می‌دانید، عرض و طول جغرافیایی را هم وارد کنید.",
        "Give the district or the address; add latitude and longitude if you know them.",
    ),
    "f.map.help": ("برای تعیین مکان روی نقشه کلیک کنید.", "Click the map to set the place."),
    "f.lat": ("عرض جغرافیایی (اختیاری)", "Latitude (optional)"),
    "f.lon": ("طول جغرافیایی (اختیاری)", "Longitude (optional)"),
    "f.phone": ("تلفن همراه (اختیاری، برای پیامک)", "Mobile number (optional, for SMS updates)"),
    "f.phone.help": ("مثلاً ۰۹۱۲۱۲۳۴۵۶۷؛ رمزنگاری و نگهداری می‌شود", "e.g. 09121234567; stored encrypted"),
    "f.media": ("پیوند عکس‌ها (اختیاری، هر خط یک پیوند)", "Photo links (optional, one per line)"),
    "f.send": ("ثبت شکایت", "Submit"),
    "errors.title": ("لطفاً موارد زیر را اصلاح کنید:", "Please correct the following:"),
    "err.text": ("شرح مشکل را بنویسید (حداکثر ۴۰۰۰ نویسه).", "Describe the problem (up to 4000 characters)."),
    "err.phone": ("شماره تلفن همراه معتبر نیست.", "This is not a valid mobile number."),
    "err.lat": (
        "عرض جغرافیایی باید عددی بین ۹۰- و ۹۰ باشد.",
        "Latitude must be a number between -90 and 90.",
    ),
    "err.lon": (
        "طول جغرافیایی باید عددی بین ۱۸۰- و ۱۸۰ باشد.",
        "Longitude must be a number between -180 and 180.",
    ),
    "err.latlon": ("عرض و طول را با هم وارد کنید.", "Give both latitude and longitude."),
    "err.media": (
        "هر خط باید یک پیوند http یا https باشد (حداکثر ۵).",
        "Each line must be an http(s) link (at most 5).",
    ),
    "err.field": ("مقدار این خانه معتبر نیست.", "This value is not valid."),
    "done.title": ("شکایت شما ثبت شد", "Your complaint is recorded"),
    "done.code": ("کد رهگیری شما", "Your tracking code"),
    "done.keep": (
        "این کد را نگه دارید؛ با آن وضعیت شکایت را پیگیری می‌کنید.",
        "Keep this code: it is how you follow your complaint.",
    ),
    "done.follow": ("مشاهده وضعیت", "See its status"),
    "track.title": ("پیگیری شکایت", "Track a complaint"),
    "track.code": ("کد رهگیری", "Tracking code"),
    "track.go": ("نمایش وضعیت", "Show status"),
    "track.notfound": ("شکایتی با این کد رهگیری پیدا نشد.", "No complaint has this tracking code."),
    "status.title": ("وضعیت شکایت", "Complaint status"),
    "status.status": ("وضعیت", "Status"),
    "status.category": ("موضوع", "Category"),
    "status.department": ("واحد مسئول", "Department"),
    "status.created": ("تاریخ ثبت", "Submitted"),
    "status.due": ("مهلت رسیدگی", "Due"),
    "status.timeline": ("روند رسیدگی", "Timeline"),
    "survey.title": ("نظرسنجی", "Survey"),
    "survey.question": (
        "از رسیدگی به این شکایت چقدر راضی هستید؟",
        "How satisfied are you with how this was handled?",
    ),
    "survey.send": ("ثبت نظر", "Send"),
    "survey.thanks": ("از پاسخ شما سپاسگزاریم.", "Thank you for your answer."),
    "survey.given": ("نظر شما ثبت شده است", "Your answer is recorded"),
    "survey.1": ("خیلی بد", "very bad"),
    "survey.5": ("عالی", "excellent"),
    "survey.err": ("یک گزینه از ۱ تا ۵ انتخاب کنید.", "Choose one answer from 1 to 5."),
    "st.received": ("دریافت شد", "received"),
    "st.routed": ("ارجاع به واحد مسئول", "routed to the department"),
    "st.triage": ("در حال بررسی و ارجاع", "being sorted"),
    "st.acknowledged": ("در دست اقدام", "being worked on"),
    "st.resolved": ("رسیدگی شد", "resolved"),
    "st.rejected": ("رد شد", "rejected"),
    "st.reopened": ("بازگشایی شد", "reopened"),
    "st.duplicate": ("تکراری", "duplicate"),
    "st.commented": ("یادداشت", "note"),
    "st.reassigned": ("ارجاع مجدد", "reassigned"),
    "st.in_progress": ("در حال انجام", "in progress"),
    "st.escalated": ("ارجاع به مقام بالاتر", "escalated"),
    "error.title": ("خطا", "Error"),
    "login.title": ("ورود کارکنان", "Staff sign-in"),
    "login.username": ("نام کاربری", "Username"),
    "login.password": ("گذرواژه", "Password"),
    "login.go": ("ورود", "Sign in"),
    "login.bad": ("نام کاربری یا گذرواژه درست نیست.", "Wrong username or password."),
    "logout": ("خروج", "Sign out"),
    "csrf.bad": ("فرم منقضی شده است؛ صفحه را دوباره باز کنید.", "The form has expired; open the page again."),
    "c.inbox": ("صندوق واحد", "Inbox"),
    "c.triage": ("صف تفکیک", "Triage queue"),
    "c.admin": ("مدیریت", "Admin"),
    "c.filter": ("فیلتر", "Filter"),
    "c.any": ("همه", "any"),
    "c.overdue": ("فقط دیرکرد", "overdue only"),
    "c.flagged": ("فقط نیازمند بررسی سرپرست", "for the supervisor only"),
    "c.supervisor": ("سرپرست", "supervisor"),
    "c.code": ("کد", "Code"),
    "c.text": ("متن", "Text"),
    "c.none": ("موردی نیست.", "Nothing here."),
    "c.confidence": ("اطمینان مدل", "Model confidence"),
    "c.location": ("مکان", "Location"),
    "c.duplicates": ("موارد تکراری", "Duplicates"),
    "c.actions": ("اقدام‌ها", "Actions"),
    "c.note": ("یادداشت برای شهروند", "Note for the citizen"),
    "c.reason": ("دلیل", "Reason"),
    "c.comment": ("یادداشت", "Comment"),
    "c.public": ("به شهروند نشان داده شود", "show to the citizen"),
    "c.internal": ("داخلی", "internal"),
    "c.needs_supervisor": (
        "نیازمند بررسی سرپرست: شهروند دوباره باز کرد",
        "For the supervisor: reopened by the citizen",
    ),
    "a.acknowledge": ("پذیرش", "Acknowledge"),
    "a.comment": ("ثبت یادداشت", "Comment"),
    "a.reassign": ("ارجاع", "Reassign"),
    "a.resolve": ("اعلام رسیدگی", "Resolve"),
    "a.reject": ("رد", "Reject"),
    "a.reopen": ("بازگشایی", "Reopen"),
    "a.done": ("اقدام ثبت شد؛ وضعیت تا چند لحظه دیگر به‌روز می‌شود.", "Done; the status follows in a moment."),
    "c.users": ("کاربران", "Users"),
    "c.keys": ("کلیدهای دسترسی", "API keys"),
    "c.role": ("نقش", "Role"),
    "c.active": ("فعال", "active"),
    "c.disabled": ("غیرفعال", "disabled"),
    "c.sla": ("مهلت (ساعت)", "SLA (hours)"),
    "c.rules": ("قواعد ارجاع", "Routing rules"),
    "c.rules.none": ("قاعده‌ای تعریف نشده است.", "No rules yet."),
    "c.hours": ("روز و ساعت", "Days and hours"),
    "c.from": ("از ساعت", "From"),
    "c.to": ("تا ساعت", "To"),
    "c.save": ("ذخیره قاعده", "Save rule"),
    "c.delete": ("حذف", "Delete"),
    "ad.saved": ("تغییر ذخیره شد.", "Saved."),
    "ad.problem": ("تغییر ذخیره نشد:", "Not saved:"),
    "ad.categories.readonly": (
        "موضوع‌ها از فایل طبقه‌بندی شهر (PASOKH_TAXONOMY_FILE) خوانده می‌شوند و اینجا فقط نمایش داده می‌شوند؛"
        " برای تغییر، آن فایل را ویرایش کنید.",
        "Categories come from the city's taxonomy file (PASOKH_TAXONOMY_FILE) and are read-only here;"
        " edit that file to change them.",
    ),
    "ad.name": ("نام نمایشی", "Display name"),
    "ad.departments": ("واحدها (برای کارکنان واحد)", "Departments (for department staff)"),
    "ad.password": ("گذرواژه اولیه", "Initial password"),
    "ad.password.help": ("دست‌کم {n} نویسه", "At least {n} characters"),
    "ad.new_password": ("گذرواژه جدید", "New password"),
    "ad.user.create": ("ساخت حساب", "Create account"),
    "ad.user.disable": ("غیرفعال کردن", "Disable"),
    "ad.user.enable": ("فعال کردن", "Enable"),
    "ad.user.reset": ("تغییر گذرواژه", "Reset password"),
    "ad.key.name": ("نام کلید (برای چه کسی)", "Key name (who it is for)"),
    "ad.key.scopes": ("دسترسی‌ها", "Scopes"),
    "ad.key.role": ("نقش (فقط کلید کارکنان)", "Role (staff keys only)"),
    "ad.key.departments": ("واحدها (کلید کارکنان واحد)", "Departments (department staff keys)"),
    "ad.key.create": ("ساخت کلید", "Create key"),
    "ad.key.revoke": ("ابطال", "Revoke"),
    "ad.key.new": (
        "کلید جدید؛ همین حالا آن را نگه دارید، دیگر نمایش داده نمی‌شود:",
        "The new key; keep it now, it is not shown again:",
    ),
    "ad.dept.fa": ("نام فارسی", "Persian name"),
    "ad.dept.en": ("نام انگلیسی", "English name"),
    "ad.dept.emails": (
        "نشانی‌های ایمیل اعلان (با ویرگول یا فاصله)",
        "Notice e-mail addresses (comma or space)",
    ),
    "ad.dept.save": ("ذخیره واحد", "Save department"),
    "ad.readonly": ("فقط مدیران می‌توانند این بخش را تغییر دهند.", "Only admins can change this."),
    "t.title": ("آمار شفافیت", "Transparency"),
    "t.intro": (
        "آمار رسیدگی به شکایات شهروندان، به‌روز با هر رویداد. داده‌ها به صورت JSON و CSV نیز در دسترس است.",
        "How the city handles complaints, updated with every event. The same numbers as JSON and CSV.",
    ),
    "t.submitted": ("ثبت‌شده", "Submitted"),
    "t.resolved": ("رسیدگی‌شده", "Resolved"),
    "t.median": ("میانه زمان رسیدگی", "Median time to resolve"),
    "t.p90": ("صدک ۹۰ زمان رسیدگی", "90th percentile time to resolve"),
    "t.sla": ("رسیدگی در مهلت", "Resolved within SLA"),
    "t.satisfaction": ("میانگین رضایت (از ۵)", "Average satisfaction (of 5)"),
    "t.by.category": ("بر حسب موضوع", "By category"),
    "t.by.department": ("بر حسب واحد", "By department"),
    "t.by.district": ("بر حسب منطقه", "By district"),
    "t.months": ("روند ماهانه", "Monthly trend"),
    "t.weeks": ("روند هفتگی", "Weekly trend"),
    "t.hours": ("ساعت", "h"),
    "t.opendata": ("داده باز", "Open data"),
    "t.none": ("-", "-"),
}


def pick_lang(request: Request) -> Lang:
    """``?lang=`` first, then the cookie, then Persian."""
    asked = request.query_params.get("lang") or request.cookies.get(COOKIE)
    return "en" if asked == "en" else "fa"


class Words:
    """The template's view of one language."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self.dir = "rtl" if lang == "fa" else "ltr"

    def __call__(self, key: str) -> str:
        fa, en = WORDS.get(key, (key, key))
        return fa if self.lang == "fa" else en

    def status(self, status: str) -> str:
        """A status or timeline kind, in words."""
        return self(f"st.{status}") if f"st.{status}" in WORDS else status

    def num(self, value: object, digits: int | None = None) -> str:
        """A number in this language's digits (Persian digits and decimal separator for Persian)."""
        if value is None:
            return "–"
        if isinstance(value, float) and digits is not None:
            text = f"{value:,.{digits}f}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = str(value)
        if self.lang == "fa":
            return to_persian_digits(text.replace(",", "٬").replace(".", "٫"))
        return text

    def pct(self, share: float | None) -> str:
        """A share as a percentage."""
        return "–" if share is None else self.num(share * 100, 0) + ("٪" if self.lang == "fa" else "%")

    def when(self, at: datetime | None, *, time: bool = True) -> str:
        """A moment in the city's time: Jalali in Persian, ISO-like in English."""
        if at is None:
            return "–"
        local = (at.astimezone(UTC) + CITY_OFFSET).replace(tzinfo=None)
        if self.lang == "fa":
            j = jdatetime.datetime.fromgregorian(datetime=local)
            text = j.strftime("%Y/%m/%d %H:%M" if time else "%Y/%m/%d")
            return to_persian_digits(text)
        return local.strftime("%Y-%m-%d %H:%M" if time else "%Y-%m-%d")

    def name(self, entry: object, code: str | None) -> str:
        """A category's or department's name in this language (the code if unknown)."""
        if entry is None:
            return code or "–"
        return str(getattr(entry, self.lang, None) or code)

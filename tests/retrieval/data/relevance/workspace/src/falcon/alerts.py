"""Alerts sent to the team by email."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from .config import SETTINGS
from .parse import Fix

LOW_BATTERY_V = 3.4
SILENT_HOURS = 12


def low_battery(fix: Fix) -> bool:
    """A tag whose battery voltage dropped below LOW_BATTERY_V needs attention."""
    return fix.battery_v < LOW_BATTERY_V


def send_alert(subject: str, body: str) -> None:
    """Email the alert to the team list through the configured SMTP server."""
    msg = EmailMessage()
    msg["Subject"] = f"[falcon] {subject}"
    msg["From"] = SETTINGS["alerts_from"]
    msg["To"] = SETTINGS["alerts_to"]
    msg.set_content(body)
    with smtplib.SMTP(SETTINGS["smtp_host"], 587) as smtp:
        smtp.starttls()
        smtp.send_message(msg)


def check(fixes: list[Fix]) -> list[str]:
    """Alert subjects for the latest fix of each tag."""
    latest: dict[str, Fix] = {}
    for fx in fixes:
        latest[fx.tag_id] = fx
    return [f"low battery on {t}" for t, fx in sorted(latest.items()) if low_battery(fx)]

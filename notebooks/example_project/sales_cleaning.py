"""Cleaning rules for the monthly sales export (a tiny project for the example notebooks)."""

from __future__ import annotations

import pandas as pd

REFUND_STATUS = "RF"


def clean_sales(raw: pd.DataFrame) -> pd.DataFrame:
    """Prepare the raw export for analysis.

    Refunds (rows whose status is RF) are dropped, amounts are converted from cents to
    euros in a new column amount_eur, and the date column is parsed as dates.
    """
    sales = raw[raw["status"] != REFUND_STATUS].copy()
    sales["amount_eur"] = sales["amount_cents"] / 100
    sales["date"] = pd.to_datetime(sales["date"])
    return sales

"""Readable descriptions of invoice lines for a gateway's invoice items.

A customer reads the gateway's invoice, not our JSON, so each item says what it charges:
the metric and group, the quantity and, for usage, how each tier priced it.
"""

from __future__ import annotations

from billing_dagster.invoicing.documents import CreditNote, InvoiceLine, TierAmount

#: Gateways cap item descriptions (Stripe: 500 characters); a longer text is cut.
MAX_DESCRIPTION = 500


def line_description(line: InvoiceLine, currency: str) -> str:
    kind, code = line["kind"], line.get("code")
    plan = f" ({line['plan']} v{line['plan_version']})" if line.get("plan") else ""
    if kind == "usage":
        group = f" [{line['group']}]" if line.get("group") else ""
        tiers = "; ".join(_tier_text(tier) for tier in line.get("tiers") or [])
        text = f"{code}{group}{plan}: {line['quantity']} units" + (f"; {tiers}" if tiers else "")
        if "amount_to_date" in line:  # an interim invoice bills what is not billed yet
            text += f"; {line['amount_to_date']} {currency} to date, less earlier interim invoices"
    elif kind == "fixed_fee":
        days = (
            f", {line['active_days']} of {line['period_days']} days"
            if line.get("active_days") != line.get("period_days")
            else ""
        )
        text = f"Fixed fee {code}{plan}{days}"
    elif kind == "minimum_commitment":
        text = f"Minimum commitment{plan}: difference to the minimum"
    elif kind == "discount":
        text = f"Discount{plan}"
    elif kind == "interim_invoiced":
        text = f"Billed by interim invoices {', '.join(line.get('interim_invoices') or [])}"
    elif kind == "tax":
        text = "Tax"
    elif kind == "credit":
        text = f"Prepaid credit {code}"
    elif kind == "adjustment":
        text = (
            f"Adjustment of {code} (invoice {line.get('adjusts_invoice')}): billed "
            f"{line.get('billed_total')}, corrected {line.get('corrected_total')} {currency}"
        )
    else:
        text = f"{kind} {code or ''}".strip()
    return text[:MAX_DESCRIPTION]


def line_title(line: InvoiceLine) -> str:
    """A short name for a line, where a gateway wants one beside the description."""
    kind, code = line["kind"], line.get("code")
    titles = {
        "usage": f"{code}" + (f" [{line['group']}]" if line.get("group") else ""),
        "fixed_fee": f"Fixed fee {code}",
        "minimum_commitment": "Minimum commitment",
        "interim_invoiced": "Interim invoices",
        "tax": "Tax",
        "adjustment": f"Adjustment of {code}",
    }
    return titles.get(kind, f"{kind} {code or ''}".strip())


def credit_note_description(note: CreditNote) -> str:
    if note.get("kind") == "refund":
        where = "to the payment" if note["refund_to"] == "payment" else "to the balance"
        text = (
            f"Refund of {note['total']} {note['currency']} {where} on invoice "
            f"{note['adjusts_invoice']}: {note['reason']}"
        )
        return text[:MAX_DESCRIPTION]
    text = (
        f"Correction of {note['adjusts_period']} (invoice {note['adjusts_invoice']}): billed "
        f"{note['billed_total']}, corrected {note['corrected_total']} {note['currency']}"
    )
    return text[:MAX_DESCRIPTION]


def _tier_text(tier: TierAmount) -> str:
    fee = f" + {tier['flat_fee']}" if tier.get("flat_fee") not in (None, "0") else ""
    return f"tier {tier['tier']}: {tier['units']} × {tier['unit_price']}{fee} = {tier['amount']}"

"""A decision on an order waiting for approval, as a back-office page takes it from its form:
by the region's staff (:mod:`portal.regions.views`) or by another manager of the structure
(:mod:`portal.structures.views`). Each page checks its own scope and form first, and passes the
calls of its own service (:mod:`portal.regions.approvals`, :mod:`portal.structures.approvals`).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort
from flask_babel import gettext as _

from portal.actions import carry_out
from portal.regions.approvals import ApprovalError


def apply_decision(
    order_id: int,
    decision: str | None,
    *,
    approve: Callable[[], object],
    reject: Callable[[], object],
) -> None:
    """Approve or reject (``decision`` from the form; anything else is a 400), commit and say so.

    A decision the service refuses (:class:`ApprovalError`: no reason for a refusal, the order
    no longer waiting…) is rolled back and its reason shown; an order outside the decider's
    scope is a 404.
    """
    if decision == "approve":
        decide, message = approve, _("Commande n° %(id)d approuvée.", id=order_id)
    elif decision == "reject":
        decide = reject
        message = _("Commande n° %(id)d refusée ; le motif est transmis.", id=order_id)
    else:
        abort(400)

    def decided() -> str:
        decide()
        return message

    carry_out(decided, refused=ApprovalError)

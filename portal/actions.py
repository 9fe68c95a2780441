"""How a back-office page carries out one action that staff asked for in a POST (the caller has
checked its CSRF token): committed and confirmed, or rolled back with the reason shown.

Shared by the operator back-office (manual work items, retries) and by the decisions on orders
waiting for approval (region staff and structure managers, :mod:`portal.regions.decisions`).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash

from portal.db import get_session


def carry_out(action: Callable[[], str], *, refused: type[Exception]) -> None:
    """Run ``action`` (it returns the success message) and tell the user how it went.

    ``refused`` is the service's exception whose message is for the user: the change is rolled
    back and that message shown. A ``LookupError`` (the record is not in the staff member's
    scope) is a 404. Otherwise the change is committed and the success message shown.
    """
    session = get_session()
    try:
        message = action()
    except LookupError:
        session.rollback()
        abort(404)
    except refused as problem:
        session.rollback()
        flash(str(problem), "error")
    else:
        session.commit()
        flash(message, "success")

"""``POST /webhooks/operators/<operator>``: status callbacks of asynchronous creations.

Exempt from CSRF (an operator's server posts it) and authenticated instead by the HMAC
signature of the standard provisioning API (:mod:`portal.provisioning.signatures`) with the
operator's own callback secret. A missing or wrong signature is refused with 401 and changes
nothing.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, jsonify, request
from sqlmodel import select

from portal.catalogue.models import Operator
from portal.db import get_session
from portal.extensions import csrf
from portal.provisioning import pipeline, registry
from portal.provisioning.adapters.standard import parse_mailbox
from portal.provisioning.interfaces import TransientProvisioningError
from portal.provisioning.signatures import SIGNATURE_HEADER, verify

log = logging.getLogger(__name__)
blueprint = Blueprint("operator_webhooks", __name__)
csrf.exempt(blueprint)


def _answer(status: int, code: str, message: str) -> Response:
    response = jsonify({"code": code, "message": message})
    response.status_code = status
    return response


@blueprint.post("/webhooks/operators/<slug>")
def operator_callback(slug: str) -> Response:
    session = get_session()
    operator = session.exec(select(Operator).where(Operator.slug == slug)).first()
    secret = (
        registry.callback_secret(operator, current_app.config["PORTAL_SETTINGS"])
        if operator
        else None
    )
    body = request.get_data(cache=False)
    if (
        operator is None
        or secret is None
        or not verify(secret, body, request.headers.get(SIGNATURE_HEADER))
    ):
        log.warning("operator callback refused", extra={"operator": slug})
        return _answer(401, "bad_signature", "The signature is missing, wrong or expired.")
    try:
        payload = json.loads(body)
        remote = parse_mailbox(payload["mailbox"])
    except (ValueError, KeyError, TypeError, TransientProvisioningError):
        return _answer(400, "invalid_request", "The body is not a mailbox status callback.")
    if not pipeline.mailbox_reported(session, operator=operator, remote=remote):
        session.rollback()
        return _answer(404, "not_found", "The portal does not know this mailbox.")
    session.commit()
    return Response(status=204)

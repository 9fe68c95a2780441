"""The one authorisation policy of the back-offices: who may use which route.

Every route under ``/admin/``, ``/espace-region/``, ``/espace-operateur/`` and
``/espace-structure/`` declares who may use it with :func:`allow`, placed under the route
decorator::

    from portal.accounts.policy import Role, allow

    @blueprint.get("/espace-region/<region_code>/programmes")
    @allow(Role.REGION_ADMIN, region="region_code")
    def programmes(region_code): ...

- ``allow(*roles)``: the signed-in account holds one of ``roles`` (in any scope).
- ``region=`` / ``operator=`` / ``structure=`` name the URL argument that carries the scope;
  the membership must then be for that very region, operator or structure. A structure manager
  is also anyone whose Pro Santé Connect activities list the structure.
- ``allow_signed_in()``: anyone signed in (for pages that list only the person's own scopes,
  such as "my structures").
- Platform admins may use every route.
- Nobody signed in: redirect to the sign-in page, then back. Signed in without the right: 403.

A route under those prefixes without ``@allow`` is refused (403) by a guard and fails
``tests/accounts/test_policy.py``, which walks the URL map. Views that list several scopes
(e.g. "my regions") use :func:`region_codes_for`, :func:`operator_ids_for` and friends, so a
region admin never sees another region's data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, abort, g, redirect, request
from sqlmodel import Session, select

from portal.accounts.models import Account, Activity, Membership, Role
from portal.accounts.session import current_account, sign_in_url
from portal.db import get_session

PROTECTED_PREFIXES = ("/admin/", "/espace-region/", "/espace-operateur/", "/espace-structure/")
POLICY_ATTRIBUTE = "portal_policy"

__all__ = [
    "PROTECTED_PREFIXES",
    "Role",
    "Rule",
    "allow",
    "allow_signed_in",
    "can_manage_structure",
    "is_platform_admin",
    "memberships_of",
    "operator_ids_for",
    "region_codes_for",
]


@dataclass(frozen=True)
class Rule:
    """Who may use a route: roles, and which URL argument carries the scope (if any)."""

    roles: frozenset[str]
    region_arg: str | None = None
    operator_arg: str | None = None
    structure_arg: str | None = None
    any_signed_in: bool = False

    def permits(self, session: Session, account: Account, view_args: dict[str, Any]) -> bool:
        if self.any_signed_in:
            return True
        memberships = memberships_of(session, account)
        if any(m.role == Role.PLATFORM_ADMIN for m in memberships):
            return True
        for membership in memberships:
            if membership.role not in self.roles:
                continue
            if self.region_arg and membership.region_code != str(view_args.get(self.region_arg)):
                continue
            if self.operator_arg and membership.operator_id != _int(
                view_args.get(self.operator_arg)
            ):
                continue
            if self.structure_arg and membership.structure_id != _int(
                view_args.get(self.structure_arg)
            ):
                continue
            return True
        if Role.STRUCTURE_MANAGER in self.roles and self.structure_arg:
            structure_id = _int(view_args.get(self.structure_arg))
            return structure_id is not None and works_in(session, account, structure_id)
        return False


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def allow(
    *roles: str,
    region: str | None = None,
    operator: str | None = None,
    structure: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare who may use a back-office view (see the module's documentation)."""
    if not roles:
        raise ValueError("allow() needs at least one role")
    return _guard(Rule(frozenset(str(r) for r in roles), region, operator, structure))


def allow_signed_in() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a back-office view open to anyone signed in (it shows only their own scopes)."""
    return _guard(Rule(frozenset(), any_signed_in=True))


def _guard(rule: Rule) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if account is None:
                return redirect(sign_in_url())
            if not rule.permits(get_session(), account, kwargs):
                abort(403)
            return view(*args, **kwargs)

        setattr(guarded, POLICY_ATTRIBUTE, rule)
        return guarded

    return decorate


def policy_of(view: Callable[..., Any] | None) -> Rule | None:
    return getattr(view, POLICY_ATTRIBUTE, None)


def memberships_of(session: Session, account: Account) -> list[Membership]:
    """The account's memberships (read once per request)."""
    cache = g.setdefault("portal_memberships", {})
    if account.id not in cache:
        cache[account.id] = list(
            session.exec(select(Membership).where(Membership.account_id == account.id)).all()
        )
    return cache[account.id]


def forget_memberships() -> None:
    """Call after changing memberships within a request."""
    g.pop("portal_memberships", None)


def is_platform_admin(session: Session, account: Account | None) -> bool:
    return account is not None and any(
        m.role == Role.PLATFORM_ADMIN for m in memberships_of(session, account)
    )


def region_codes_for(session: Session, account: Account) -> set[str] | None:
    """Regions the account administers; None means every region (platform admin)."""
    if is_platform_admin(session, account):
        return None
    return {
        m.region_code
        for m in memberships_of(session, account)
        if m.role == Role.REGION_ADMIN and m.region_code
    }


def operator_ids_for(session: Session, account: Account) -> set[int] | None:
    """Operators the account administers; None means every operator (platform admin)."""
    if is_platform_admin(session, account):
        return None
    return {
        m.operator_id
        for m in memberships_of(session, account)
        if m.role == Role.OPERATOR_ADMIN and m.operator_id is not None
    }


def works_in(session: Session, account: Account, structure_id: int) -> bool:
    """The account's professional has a Pro Santé Connect activity in the structure."""
    if account.professional_id is None:
        return False
    return (
        session.exec(
            select(Activity.id).where(
                Activity.professional_id == account.professional_id,
                Activity.structure_id == structure_id,
            )
        ).first()
        is not None
    )


def can_manage_structure(session: Session, account: Account | None, structure_id: int) -> bool:
    """A structure manager by membership or by a PSC activity in the structure, or platform."""
    if account is None:
        return False
    return Rule(frozenset({Role.STRUCTURE_MANAGER}), structure_arg="structure_id").permits(
        session, account, {"structure_id": structure_id}
    )


def unprotected_routes(app: Flask, prefixes: Iterable[str] = PROTECTED_PREFIXES) -> list[str]:
    """Rules under the protected prefixes whose view declares no policy (must be empty)."""
    missing = []
    for rule in app.url_map.iter_rules():
        path = rule.rule if rule.rule.endswith("/") else rule.rule + "/"
        if (
            path.startswith(tuple(prefixes))
            and policy_of(app.view_functions.get(rule.endpoint)) is None
        ):
            missing.append(rule.rule)
    return sorted(missing)


def init_app(app: Flask) -> None:
    @app.before_request
    def _deny_routes_without_policy() -> None:
        # Defence in depth: a back-office view someone forgot to declare is refused, not open.
        path = request.path if request.path.endswith("/") else request.path + "/"
        if not path.startswith(PROTECTED_PREFIXES) or request.endpoint is None:
            return
        if policy_of(app.view_functions.get(request.endpoint)) is None:
            abort(403)

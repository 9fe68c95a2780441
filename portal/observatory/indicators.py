"""National indicators of the observatory, computed from the portal's own database.

Every figure is a count or a duration over many orders; nothing here reads a name, an
address or an identifier, so nothing the observatory publishes points at a person.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from portal.accounts.models import Activity, Structure
from portal.catalogue.models import Department, Operator, Region
from portal.subscriptions.models import Mailbox, Order, OrderEvent, OrderState

UNKNOWN = ""  # the code of "region not known" (a mailbox of a professional without activity)

# Orders still being written by their author are not orders yet.
NOT_ORDERED = (OrderState.DRAFT,)


@dataclass(frozen=True)
class Count:
    code: str
    count: int


@dataclass(frozen=True)
class NationalIndicators:
    provisioned_total: int
    by_region: list[Count]  # every region, in the order of their codes, then "not known"
    by_type: list[Count]  # mailbox types
    by_operator_kind: list[Count]
    orders_total: int
    subsidised_orders: int
    activations_measured: int
    median_time_to_active: dt.timedelta | None

    @property
    def subsidised_share(self) -> float | None:
        """Share of orders placed under a regional programme, from 0 to 1."""
        if not self.orders_total:
            return None
        return self.subsidised_orders / self.orders_total


def _region_of_mailbox_columns():
    """(mailbox id, region code): the structure's region, else that of the holder's workplace."""
    first_workplace = (
        select(
            Activity.professional_id.label("professional_id"),
            sa.func.min(Activity.structure_id).label("structure_id"),
        )
        .group_by(Activity.professional_id)
        .subquery("first_workplace")
    )
    own_structure = aliased(Structure, name="own_structure")
    own_department = aliased(Department, name="own_department")
    workplace = aliased(Structure, name="workplace")
    workplace_department = aliased(Department, name="workplace_department")
    region = sa.func.coalesce(own_department.region_code, workplace_department.region_code)
    query = (
        select(region.label("region_code"), sa.func.count(Mailbox.id))
        .select_from(Mailbox)
        .outerjoin(own_structure, own_structure.id == Mailbox.structure_id)
        .outerjoin(own_department, own_department.code == own_structure.department_code)
        .outerjoin(first_workplace, first_workplace.c.professional_id == Mailbox.professional_id)
        .outerjoin(workplace, workplace.id == first_workplace.c.structure_id)
        .outerjoin(workplace_department, workplace_department.code == workplace.department_code)
        .where(Mailbox.activated_at.is_not(None))
        .group_by(region)
    )
    return query


def median_duration(durations: list[dt.timedelta]) -> dt.timedelta | None:
    if not durations:
        return None
    return dt.timedelta(seconds=statistics.median(d.total_seconds() for d in durations))


def order_activation_durations(session: Session, *, region_code: str | None = None):
    """Time from submission to the first activation, for every order that became active."""
    activated = (
        select(OrderEvent.order_id, sa.func.min(OrderEvent.created_at).label("activated_at"))
        .where(OrderEvent.to_state == OrderState.ACTIVE)
        .group_by(OrderEvent.order_id)
        .subquery("activated")
    )
    query = select(
        sa.func.coalesce(Order.submitted_at, Order.created_at), activated.c.activated_at
    ).join(activated, activated.c.order_id == Order.id)
    if region_code is not None:
        query = query.where(Order.programme_id.in_(_programme_ids(region_code)))
    durations = []
    for submitted, activated_at in session.execute(query):
        if activated_at.tzinfo is None:  # SQLite hands aggregates back without their zone
            activated_at = activated_at.replace(tzinfo=dt.UTC)
        if submitted.tzinfo is None:
            submitted = submitted.replace(tzinfo=dt.UTC)
        durations.append(max(activated_at - submitted, dt.timedelta(0)))
    return durations


def _programme_ids(region_code: str):
    from portal.regions.models import SubsidyProgramme

    return select(SubsidyProgramme.id).where(SubsidyProgramme.region_code == region_code)


def national_indicators(*, session: Session) -> NationalIndicators:
    regions = session.exec(select(Region.code).order_by(Region.code)).all()
    per_region = {code: count for code, count in session.execute(_region_of_mailbox_columns())}
    by_region = [Count(code, per_region.get(code, 0)) for code in regions]
    unknown = per_region.get(None, 0) + sum(
        count for code, count in per_region.items() if code is not None and code not in regions
    )
    if unknown:
        by_region.append(Count(UNKNOWN, unknown))

    provisioned = Mailbox.activated_at.is_not(None)
    per_type = dict(
        session.execute(
            select(Mailbox.type, sa.func.count(Mailbox.id))
            .where(provisioned)
            .group_by(Mailbox.type)
        ).all()
    )
    by_type = [Count(code, per_type.get(code, 0)) for code in ("PER", "ORG", "APP", "CAB")]

    per_kind = dict(
        session.execute(
            select(Operator.kind, sa.func.count(Mailbox.id))
            .join(Operator, Operator.id == Mailbox.operator_id)
            .where(provisioned)
            .group_by(Operator.kind)
        ).all()
    )
    by_kind = [
        Count(code, per_kind.get(code, 0))
        for code in ("national", "commercial", "regional", "establishment")
    ]

    ordered = Order.state.not_in(NOT_ORDERED)
    orders_total = session.execute(select(sa.func.count(Order.id)).where(ordered)).scalar_one()
    subsidised = session.execute(
        select(sa.func.count(Order.id)).where(ordered, Order.programme_id.is_not(None))
    ).scalar_one()
    durations = order_activation_durations(session)
    return NationalIndicators(
        provisioned_total=sum(per_type.values()),
        by_region=by_region,
        by_type=by_type,
        by_operator_kind=by_kind,
        orders_total=orders_total,
        subsidised_orders=subsidised,
        activations_measured=len(durations),
        median_time_to_active=median_duration(durations),
    )

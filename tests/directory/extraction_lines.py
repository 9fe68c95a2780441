"""Build extraction lines for tests, column by column."""

from __future__ import annotations

from portal.directory.extraction import FIELDS, HEADER_LINE

HEADER = HEADER_LINE


def line(**values) -> str:
    """One extraction line; unspecified columns are empty."""
    return "|".join(str(values.get(field) or "") for field in FIELDS)


def per(address, rpps, last, first, **values) -> str:
    return line(
        mailbox_type="PER",
        address=address,
        pp_id_type="8",
        pp_id=rpps,
        idnps="8" + rpps,
        last_name=last,
        first_name=first,
        civility=values.pop("civility", "DR"),
        profession_code=values.pop("profession_code", "10"),
        profession_label=values.pop("profession_label", "Médecin"),
        postal_code=values.pop("postal_code", "75011"),
        address_l6=values.pop("address_l6", "75011 PARIS"),
        department=values.pop("department", "75"),
        country=values.pop("country", "France"),
        **values,
    )


def org(address, finess, name, **values) -> str:
    return line(
        mailbox_type=values.pop("mailbox_type", "ORG"),
        address=address,
        structure_id_type=values.pop("structure_id_type", "1"),
        structure_id=finess,
        structure_name=name,
        postal_code=values.pop("postal_code", "69003"),
        address_l6=values.pop("address_l6", "69003 LYON"),
        **values,
    )

"""National identifiers of professionals and structures: validation and conversions.

- RPPS: 11 digits. No check digit is confirmed (many official examples fail Luhn), so the
  format alone decides.
- ADELI: 9 characters (a département, 2A/2B for Corsica, then digits).
- IDNPS, the national id of a professional: "8" + RPPS, or "0" + ADELI.
- FINESS: 9 characters (2A/2B for Corsica). Official examples pass Luhn but the rule is not
  confirmed, so a failing check digit is a *warning* (:func:`finess_check_digit_ok`), never a
  rejection.
- IDNST, the national id of a structure: "1" + FINESS, "3" + SIRET (the latter unconfirmed).
- SIRET (14 digits) and SIREN (9 digits) carry a Luhn check digit; python-stdnum implements them,
  including La Poste's exception.

Every ``validate_*`` function returns the value in its compact form (spaces removed, upper case)
or raises :class:`InvalidIdentifier`, whose message is an English sentence naming the problem;
``reason`` is a stable code that user interfaces translate.
"""

from __future__ import annotations

import re

from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

# FHIR identifier systems of the ANS directory IG.
IDNPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
RPPS_SYSTEM = "https://rpps.esante.gouv.fr"
IDNST_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
FINESS_SYSTEM = "https://finess.esante.gouv.fr"
SIREN_SYSTEM = "http://sirene.fr"

RPPS_PREFIX = "8"
ADELI_PREFIX = "0"
FINESS_PREFIX = "1"
SIRET_PREFIX = "3"

_RPPS = re.compile(r"\d{11}")
_ADELI = re.compile(r"(\d{2}|2A|2B)\d{7}")
_FINESS = re.compile(r"(\d{2}|2A|2B)\d{7}")


class InvalidIdentifier(ValueError):
    """An identifier that cannot be right. ``kind`` names it, ``reason`` is a stable code."""

    def __init__(self, kind: str, value: str, reason: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.value = value
        self.reason = reason


def compact(value: str | None) -> str:
    """Remove spaces, dots and dashes people type inside identifiers; upper-case letters."""
    return re.sub(r"[\s.\-]", "", value or "").upper()


def validate_rpps(value: str) -> str:
    if len(value) == 11 and value.isdigit() and value.isascii():
        return value  # the common case, without the regular expressions
    number = compact(value)
    if not _RPPS.fullmatch(number):
        raise InvalidIdentifier(
            "RPPS", value, "format", f"RPPS number {value!r} must be exactly 11 digits."
        )
    return number


def validate_adeli(value: str) -> str:
    number = compact(value)
    if not _ADELI.fullmatch(number):
        raise InvalidIdentifier(
            "ADELI",
            value,
            "format",
            f"ADELI number {value!r} must be 9 characters: a département (2A/2B for Corsica) "
            "then 7 digits.",
        )
    return number


def validate_idnps(value: str) -> str:
    """An IDNPS: "8" followed by an RPPS number, or "0" followed by an ADELI number."""
    number = compact(value)
    if number.startswith(RPPS_PREFIX) and len(number) == 12:
        validate_rpps(number[1:])
        return number
    if number.startswith(ADELI_PREFIX) and len(number) == 10:
        validate_adeli(number[1:])
        return number
    raise InvalidIdentifier(
        "IDNPS",
        value,
        "format",
        f"National professional id {value!r} must be 8 followed by the 11-digit RPPS number, "
        "or 0 followed by the 9-character ADELI number.",
    )


def idnps_from_rpps(rpps: str) -> str:
    return RPPS_PREFIX + validate_rpps(rpps)


def idnps_from_adeli(adeli: str) -> str:
    return ADELI_PREFIX + validate_adeli(adeli)


def validate_finess(value: str) -> str:
    number = compact(value)
    if not _FINESS.fullmatch(number):
        raise InvalidIdentifier(
            "FINESS",
            value,
            "format",
            f"FINESS number {value!r} must be 9 characters: a département (2A/2B for Corsica) "
            "then 7 digits.",
        )
    return number


def finess_check_digit_ok(value: str) -> bool | None:
    """Whether a FINESS number passes Luhn; ``None`` for Corsica, where no rule is known."""
    number = validate_finess(value)
    if not number.isdigit():
        return None
    return luhn.is_valid(number)


def idnst_from_finess(finess: str) -> str:
    return FINESS_PREFIX + validate_finess(finess)


def validate_siret(value: str) -> str:
    try:
        return stdnum_siret.validate(value)
    except StdnumValidationError as error:
        raise InvalidIdentifier(
            "SIRET",
            value,
            "checksum" if "checksum" in type(error).__name__.lower() else "format",
            f"SIRET number {value!r} is not valid: it must be 14 digits with a correct check "
            "digit.",
        ) from error


def validate_siren(value: str) -> str:
    try:
        return stdnum_siren.validate(value)
    except StdnumValidationError as error:
        raise InvalidIdentifier(
            "SIREN",
            value,
            "checksum" if "checksum" in type(error).__name__.lower() else "format",
            f"SIREN number {value!r} is not valid: it must be 9 digits with a correct check digit.",
        ) from error


def idnst_from_siret(siret: str) -> str:
    return SIRET_PREFIX + validate_siret(siret)


def is_valid(validator, value: str) -> bool:
    """``True`` when ``validator(value)`` accepts the value."""
    try:
        validator(value)
    except InvalidIdentifier:
        return False
    return True

"""National identifiers: what is accepted, what is refused, and the derived national ids."""

from __future__ import annotations

import pytest

from portal import identifiers as ids


@pytest.mark.parametrize("value", ["10003456789", "1000 345 6789", "10100000000"])
def test_rpps_is_eleven_digits_without_a_luhn_rule(value):
    assert ids.validate_rpps(value) == value.replace(" ", "")


@pytest.mark.parametrize("value", ["1000345678", "100034567890", "1000345678A", ""])
def test_rpps_of_the_wrong_shape_is_refused(value):
    with pytest.raises(ids.InvalidIdentifier, match="11 digits"):
        ids.validate_rpps(value)


def test_idnps_from_rpps_and_adeli():
    assert ids.idnps_from_rpps("10003456789") == "810003456789"
    assert ids.idnps_from_adeli("2A1234567") == "02A1234567"
    assert ids.validate_idnps("810003456789") == "810003456789"
    assert ids.validate_idnps("0751234567") == "0751234567"
    for wrong in ("910003456789", "81000345678", "07512345"):
        with pytest.raises(ids.InvalidIdentifier):
            ids.validate_idnps(wrong)


@pytest.mark.parametrize("value", ["750712184", "2A0000028", "2B0000012", "010000024"])
def test_finess_accepts_corsica(value):
    assert ids.validate_finess(value.lower()) == value
    assert ids.idnst_from_finess(value) == "1" + value


def test_finess_check_digit_is_a_warning_not_a_rejection():
    assert ids.finess_check_digit_ok("010000024") is True
    assert ids.finess_check_digit_ok("010000025") is False  # still a valid FINESS
    assert ids.validate_finess("010000025") == "010000025"
    assert ids.finess_check_digit_ok("2A0000028") is None  # no known rule for Corsica


@pytest.mark.parametrize("value", ["01000002", "2C0000028", "ABCDEFGHI"])
def test_finess_of_the_wrong_shape_is_refused(value):
    with pytest.raises(ids.InvalidIdentifier, match="9 characters"):
        ids.validate_finess(value)


def test_siret_and_siren_use_luhn_through_python_stdnum():
    assert ids.validate_siret("732 829 320 00074") == "73282932000074"
    assert ids.idnst_from_siret("73282932000074") == "373282932000074"
    assert ids.validate_siren("732829320") == "732829320"
    with pytest.raises(ids.InvalidIdentifier) as error:
        ids.validate_siret("73282932000075")
    assert error.value.reason == "checksum"
    with pytest.raises(ids.InvalidIdentifier):
        ids.validate_siren("12345")
    assert ids.is_valid(ids.validate_siret, "73282932000074")
    assert not ids.is_valid(ids.validate_siret, "7328293200007")

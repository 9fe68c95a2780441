"""Passwords of staff accounts: Argon2id hashing (argon2-cffi), rules, lock-out after failures."""

from __future__ import annotations

import contextlib
import datetime as dt

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _

from portal.accounts.models import Account
from portal.db import utcnow

MIN_LENGTH = 12
MAX_LENGTH = 128
MAX_FAILURES = 5  # consecutive failed sign-ins before the account is locked
LOCK_DURATION = dt.timedelta(minutes=15)

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """A sentence saying what is wrong with a new password, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return _("Le mot de passe doit contenir au moins %(n)s caractères.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("Le mot de passe doit contenir au plus %(n)s caractères.", n=MAX_LENGTH)
    if len(set(password)) < 5:
        return _("Le mot de passe doit mélanger au moins 5 caractères différents.")
    if email and email.split("@")[0].lower() in password.lower():
        return _("Le mot de passe ne doit pas contenir votre adresse e-mail.")
    return None


def is_locked(account: Account, now: dt.datetime | None = None) -> bool:
    return account.locked_until is not None and account.locked_until > (now or utcnow())


def check_password(account: Account | None, password: str) -> bool:
    """True when ``password`` is the account's; upgrades the hash when parameters changed."""
    if account is None or not account.password_hash:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password + "x")
        return False
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return True


def register_failure(account: Account, now: dt.datetime | None = None) -> bool:
    """Count a failed sign-in; returns True when this failure locks the account."""
    now = now or utcnow()
    account.failed_sign_ins += 1
    if account.failed_sign_ins >= MAX_FAILURES:
        account.locked_until = now + LOCK_DURATION
        account.failed_sign_ins = 0
        return True
    return False

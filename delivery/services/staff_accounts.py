"""Staff accounts: creation, Argon2id passwords, login throttling, and server-side sessions.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106 "low memory"); a hash made
with older parameters is replaced at the next successful login. Wrong passwords slow down the
address that typed them, never lock the account for everyone (:mod:`login_throttle`: each try is
counted before its password is verified, so parallel tries cannot slip past it). A disabled or
unknown account costs the same Argon2 verification as a wrong password and gets the same answer,
so the login form does not tell which usernames exist; only the log says why.

A session is a random token in the cookie; the table holds only its SHA-256, so a copy of the
database does not yield live sessions. Each session carries its own CSRF token.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from delivery.clock import Clock
from delivery.ids import new_id
from delivery.infra.rate_limits import RateLimiter, TooSoon
from delivery.services.login_throttle import LoginThrottle
from delivery.staff import Role, StaffUser
from delivery.storage import staff
from delivery.storage.engine import Engine
from delivery.storage.staff import staff_from_row
from templates.texts import Text, wording

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
SESSION_TTL = timedelta(hours=12)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MAX_DISPLAY_NAME = 200
MAX_COURT_NAME = 200

_hasher = PasswordHasher()  # Argon2id with the library's recommended parameters


class LoginThrottled(TooSoon):
    """Too many wrong passwords from this address (for this username)."""


class AccountError(ValueError):
    """The account cannot be created as asked; ``problems`` names every reason (shown in the
    reader's language by ``songda user create``; ``str()`` is the English)."""

    def __init__(self, problems: list[Text]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class StaffSession:
    """A live session: whose it is, its CSRF token and when it ends."""

    user: StaffUser
    csrf_token: str
    expires_at: datetime


def normalise_username(username: str) -> str:
    return username.strip().lower()


def account_problems(
    username: str,
    display_name: str,
    roles: Iterable[str],
    courts: Iterable[str],
    password: str,
) -> list[Text]:
    """Everything wrong with a new account's fields (empty when it can be created)."""
    problems = []
    if not USERNAME_RE.fullmatch(normalise_username(username)):
        problems.append(
            wording(
                "username: 2 to 64 characters: letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        )
    if not display_name.strip() or len(display_name.strip()) > MAX_DISPLAY_NAME:
        problems.append(
            wording("display name: required, at most %(n)s characters", n=MAX_DISPLAY_NAME)
        )
    role_list = list(roles)
    known = {r.value for r in Role}
    if not role_list or any(r not in known for r in role_list):
        problems.append(wording("roles: one or more of %(roles)s", roles=", ".join(sorted(known))))
    court_list = list(courts)
    if not court_list or any(not c.strip() or len(c.strip()) > MAX_COURT_NAME for c in court_list):
        problems.append(wording("courts: one or more non-empty court names"))
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(_too_short())
    elif len(password) > MAX_PASSWORD_LENGTH:
        problems.append(wording("password: at most %(n)s characters", n=MAX_PASSWORD_LENGTH))
    return problems


def _too_short() -> Text:
    return wording("password: at least %(n)s characters", n=MIN_PASSWORD_LENGTH)


def generate_password() -> str:
    """A strong password for a new account (about 120 bits), shown once."""
    return secrets.token_urlsafe(15)


async def hash_password(password: str) -> str:
    # Argon2 is deliberately slow and memory-hard: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(stored_hash: str | None, password: str) -> bool:
    """Argon2 verification off the event loop; ``None`` verifies against the dummy hash."""

    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _dummy_hash(), password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


@cache
def _dummy_hash() -> str:
    """A hash no password matches, verified for unknown accounts so they cost the same work."""
    return _hasher.hash(secrets.token_urlsafe(32))


async def create_staff_user(
    engine: Engine,
    clock: Clock,
    *,
    username: str,
    display_name: str,
    roles: Iterable[str],
    courts: Iterable[str],
    password: str,
) -> StaffUser:
    """Create an account; :class:`AccountError` names what is wrong, and nothing is stored."""
    role_list, court_list = list(dict.fromkeys(roles)), list(dict.fromkeys(courts))
    problems = account_problems(username, display_name, role_list, court_list, password)
    if problems:
        raise AccountError(problems)
    user = StaffUser(
        id=new_id(),
        username=normalise_username(username),
        display_name=display_name.strip(),
        roles=frozenset(Role(r) for r in role_list),
        courts=tuple(c.strip() for c in court_list),
    )
    password_hash = await hash_password(password)
    inserted = await staff.insert_user(
        engine,
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        password_hash=password_hash,
        roles=sorted(r.value for r in user.roles),
        courts=list(user.courts),
        created_at=clock.now(),
    )
    if not inserted:
        taken = wording("username: %(username)s is taken", username=repr(user.username))
        raise AccountError([taken])
    log.info("staff account created", extra={"staff_user_id": user.id})
    return user


async def set_password(engine: Engine, username: str, password: str) -> bool:
    """Replace an account's password; False if there is no such account."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError([_too_short()])
    password_hash = await hash_password(password)
    return await staff.set_password_hash(engine, normalise_username(username), password_hash)


async def list_staff_users(engine: Engine) -> list[tuple[StaffUser, dict[str, Any]]]:
    """Every account with its state (disabled_at, created_at), by username."""
    rows = await staff.all_users(engine)
    return [
        (
            staff_from_row(row),
            {k: row[k] for k in ("disabled_at", "created_at")},
        )
        for row in rows
    ]


async def get_staff_user(engine: Engine, username: str) -> StaffUser | None:
    row = await staff.user_row(engine, normalise_username(username))
    return None if row is None else staff_from_row(row)


async def check_password(engine: Engine, username: str, password: str) -> StaffUser | None:
    """The account if ``password`` is right and it may log in; otherwise None.

    Every refusal does one Argon2 verification, whatever the reason. Unthrottled: the login
    goes through :func:`log_in`, which throttles before it gets here.
    """
    name = normalise_username(username)
    row = await staff.user_row(engine, name)
    if row is None or len(password) > MAX_PASSWORD_LENGTH:
        await _verify(None, password[:MAX_PASSWORD_LENGTH])
        log.info("staff login refused", extra={"reason": "unknown_user"})
        return None
    if row["disabled_at"] is not None:
        await _verify(None, password)
        log.info("staff login refused", extra={"reason": "disabled", "staff_user_id": row["id"]})
        return None
    if not await _verify(row["password_hash"], password):
        log.info(
            "staff login refused", extra={"reason": "wrong_password", "staff_user_id": row["id"]}
        )
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        password_hash = await hash_password(password)
        await staff.rehash_password(engine, row["id"], row["password_hash"], password_hash)
    return staff_from_row(row)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(engine: Engine, clock: Clock, user: StaffUser) -> tuple[str, StaffSession]:
    """A new session for ``user``: the cookie's token (never stored) and the session."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session = StaffSession(user, secrets.token_urlsafe(32), now + SESSION_TTL)
    await staff.insert_session(
        engine,
        token_hash=_token_hash(token),
        user_id=user.id,
        csrf_token=session.csrf_token,
        created_at=now,
        expires_at=session.expires_at,
    )
    log.info("staff logged in", extra={"staff_user_id": user.id})
    return token, session


async def log_in(
    engine: Engine,
    clock: Clock,
    limits: RateLimiter,
    *,
    username: str,
    password: str,
    address: str,
) -> tuple[str, StaffSession] | None:
    """Check the password, throttled per address, and start a session; None when refused
    (wrong, disabled, unknown: all the same). :class:`LoginThrottled` when this address must
    wait first; ``LimitsUnavailable`` when the throttle cannot be checked (no password is
    checked then either)."""
    throttle = LoginThrottle(limits)
    name = normalise_username(username)
    wait = await throttle.reserve(name, address)
    if wait is not None:
        log.info("staff login throttled", extra={"seconds": int(wait.total_seconds())})
        raise LoginThrottled(wait)
    user = await check_password(engine, name, password)
    if user is None:
        return None
    await throttle.succeeded(name, address)
    return await start_session(engine, clock, user)


async def session_for(engine: Engine, clock: Clock, token: str) -> StaffSession | None:
    """The live session the cookie's token names: not expired, revoked, or of a disabled account."""
    if not token or len(token) > 200:
        return None
    row = await staff.live_session(engine, _token_hash(token), clock.now())
    if row is None:
        return None
    return StaffSession(staff_from_row(row), row["csrf_token"], row["expires_at"])


async def end_session(engine: Engine, clock: Clock, token: str) -> None:
    """Revoke the session (logout); a later request with the same cookie has no session."""
    await staff.revoke_session(engine, _token_hash(token), clock.now())

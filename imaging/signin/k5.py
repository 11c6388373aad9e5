"""Sign a person in with their K5 account: ask K5, then create or update their portal user and
replace its memberships from their K5 roles (K5_ROLE_MAP) — for the registered projects of the
region and identity endpoint signed into, and of the person's own contract (the K5 domain)
only. A first sign-in that gives no role creates no portal user.

The person's password goes to K5 once, through the guard (guard.py), and is neither stored nor
logged; neither are the tokens K5 gives back (imaging.k5.signin revokes them). Their identity
only decides what they may see and do: jobs still run with each project's service credential.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from imaging.k5 import K5CredentialError, K5Error, K5OutcomeUnknown, K5Unavailable, deadline
from imaging.k5.signin import K5UserLocked, UserAccess, user_access
from imaging.models import (
    AccountSource,
    ExternalAccount,
    K5Project,
    MembershipSource,
    SignInOutcome,
)
from imaging.signin import guard
from imaging.signin.memberships import Change, Grant, highest, replace_memberships

log = logging.getLogger("imaging.signin")


class SignInRefused(Exception):
    """The K5 sign-in did not go through; `message` says why, in the person's language."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class K5SignIn:
    user: Any  # the portal user (settings.AUTH_USER_MODEL)
    changes: list[Change]
    # Registered projects where the person holds K5 roles that K5_ROLE_MAP maps to nothing.
    unmapped: dict[str, tuple[str, ...]] = field(default_factory=dict)
    projects: int = 0  # registered projects the person now belongs to through K5


def regions() -> list[str]:
    """The regions of the registered K5 projects: the choices of the sign-in form."""
    return sorted(set(K5Project.objects.values_list("region", flat=True)))


def identity_url(region: str) -> str | None:
    """The identity endpoint the operator registered for the region (the one most of its
    projects use, should they differ)."""
    urls = Counter(K5Project.objects.filter(region=region).values_list("identity_url", flat=True))
    return min(urls, key=lambda url: (-urls[url], url)) if urls else None


def sign_in(
    *, region: str, contract: str, username: str, password: str, address: str | None
) -> K5SignIn:
    """Ask K5 and bring the portal user up to date; SignInRefused with the reason otherwise."""
    auth_url = identity_url(region)
    if auth_url is None:
        raise SignInRefused(
            _("The portal has no K5 project in region %(region)s.") % {"region": region}
        )
    # Only the projects behind this identity endpoint are K5's to speak about: memberships of
    # other regions (or another endpoint of this one) stay as their own sign-ins left them.
    projects = list(K5Project.objects.filter(region=region, identity_url=auth_url))
    account = f"{contract.strip()}/{username.strip()}"
    try:
        attempt = guard.begin(contract, username, address)
    except guard.TooManyFailures as refused:
        log.warning("K5 sign-in refused by the guard: account=%s address=%s", account, address)
        raise SignInRefused(
            _(
                "The portal did not send this sign-in to K5: %(account)s has had %(failures)d "
                "failed K5 sign-ins in the last 15 minutes, and K5 locks a user after 5. "
                "Try again after %(until)s."
            )
            % {
                "account": account,
                "failures": refused.failures,
                # 15 minutes at most from now: the time of day says it (seconds included).
                "until": timezone.localtime(refused.until).strftime("%H:%M:%S %Z"),
            }
        ) from None
    try:
        with deadline.within(settings.K5_REQUEST_BUDGET_SECONDS):
            access = user_access(
                auth_url,
                contract=contract.strip(),
                username=username.strip(),
                password=password,
                project_ids={p.k5_project_id for p in projects},
                connect_timeout=settings.K5_CONNECT_TIMEOUT,
                read_timeout=settings.K5_READ_TIMEOUT,
            )
    except K5Error as error:
        outcome = _counts(error)
        guard.finish(attempt, outcome)
        log.warning("K5 sign-in failed: account=%s address=%s error=%s", account, address, error)
        raise SignInRefused(_explain(error, contract, username)) from None
    guard.finish(attempt, SignInOutcome.SUCCEEDED)
    result = _bring_up_to_date(access, projects, at={"region": region, "identity_url": auth_url})
    log.info(
        "K5 sign-in: account=%s address=%s projects=%d changes=%d",
        result.user.get_username(),
        address,
        result.projects,
        len(result.changes),
    )
    return result


def _counts(error: K5Error) -> str:
    """Whether K5 may have counted this attempt towards its lockout."""
    if isinstance(error, K5CredentialError | K5OutcomeUnknown):
        return SignInOutcome.FAILED
    if isinstance(error, K5Unavailable):
        return SignInOutcome.NOT_SENT  # unreachable, or K5 failed before judging the password
    return SignInOutcome.FAILED  # an answer we cannot read: count it, to be safe


def _explain(error: K5Error, contract: str, username: str) -> str:
    account = f"{contract.strip()}/{username.strip()}"
    if isinstance(error, K5UserLocked):
        return _(
            "K5 has locked the user %(account)s after too many wrong passwords: until the lock "
            "ends (15 minutes after the last wrong password) K5 refuses even the right one. "
            "K5 said: %(k5)s"
        ) % {"account": account, "k5": error.message}
    if isinstance(error, K5CredentialError):
        left = guard.attempts_left(contract, username)
        refused = _("K5 did not accept this contract, user name and password.")
        if not left:
            return (
                refused
                + " "
                + _(
                    "The portal will not ask K5 again for this user for 15 minutes, so that K5 "
                    "does not lock it."
                )
            )
        return (
            refused
            + " "
            + ngettext(
                "The portal will ask K5 %(left)d more time for this user in the next 15 minutes.",
                "The portal will ask K5 %(left)d more times for this user in the next 15 minutes.",
                left,
            )
            % {"left": left}
        )
    if isinstance(error, K5OutcomeUnknown):
        return _(
            "K5 did not answer the sign-in (K5 may have counted it as a failed attempt). "
            "Try again in a minute."
        )
    if isinstance(error, K5Unavailable):
        return _("K5 cannot be reached just now; nothing was counted. Try again later.")
    return _("K5 answered something the portal does not understand; try again later.")


@transaction.atomic
def _bring_up_to_date(access: UserAccess, projects: list[K5Project], *, at: dict) -> K5SignIn:
    grants, seen, unmapped = [], {}, {}
    for project in projects:
        k5_roles = access.roles_by_project.get(project.k5_project_id, ())
        # The contract is the K5 domain: a role in another contract's project (K5 allows
        # assignments across domains) is not a role in the project the operator registered.
        if not k5_roles or project.contract != access.domain_name:
            continue
        seen[project.pk] = k5_roles
        role = highest(
            settings.K5_ROLE_MAP[name] for name in k5_roles if name in settings.K5_ROLE_MAP
        )
        if role is None:
            unmapped[project.name] = k5_roles
        else:
            grants.append(Grant(project, role, k5_roles))
    user = _portal_user(access, create=bool(grants))
    if user is None:
        raise SignInRefused(nothing_here(unmapped))
    changes = replace_memberships(
        user,
        MembershipSource.K5,
        grants,
        within={project.pk for project in projects},
        seen=seen,
        at=at,
    )
    return K5SignIn(user=user, changes=changes, unmapped=unmapped, projects=len(grants))


def nothing_here(unmapped: dict[str, tuple[str, ...]]) -> str:
    """Why a K5 sign-in K5 accepted leads nowhere: `unmapped` is the person's K5 roles, by
    registered project, that K5_ROLE_MAP maps to nothing."""
    text = _(
        "K5 accepted your sign-in, but none of your K5 roles gives you a role in any "
        "project of this portal, so there is nothing for you here yet."
    )
    if unmapped:
        listed = "; ".join(f"{name}: {', '.join(roles)}" for name, roles in unmapped.items())
        why = _(
            "Your K5 roles in the portal's projects (%(roles)s) are not among the roles "
            "the portal maps to its own. Ask an operator."
        ) % {"roles": listed}
    else:
        why = _(
            "You have no K5 role in any of the portal's projects. Ask your K5 project's "
            "administrator for one."
        )
    return f"{text} {why}"


def _portal_user(access: UserAccess, *, create: bool):
    """The portal user of this K5 user; on the first sign-in created (no usable password) when
    `create`, else None: a K5 account with nothing to do here leaves no user behind."""
    key = f"{access.domain_name}/{access.user_name}"
    account = (
        ExternalAccount.objects.select_for_update()
        .select_related("user")
        .filter(source=AccountSource.K5, key=key)
        .first()
    )
    now = timezone.now()
    if account is not None:
        ExternalAccount.objects.filter(pk=account.pk).update(
            external_id=access.user_id, last_sign_in_at=now
        )
        user = account.user
        if not user.is_active:
            raise SignInRefused(
                _("An operator has disabled the portal account %(name)s.") % {"name": key}
            )
        return user
    if not create:
        return None
    users = get_user_model().objects
    if users.filter(username=key[:150]).exists():
        raise SignInRefused(
            _("The portal already has a local account named %(name)s; ask an operator.")
            % {"name": key}
        )
    user = users.create_user(key[:150])  # no password given: not usable for a local sign-in
    ExternalAccount.objects.create(
        user=user,
        source=AccountSource.K5,
        key=key,
        external_id=access.user_id,
        last_sign_in_at=now,
    )
    return user

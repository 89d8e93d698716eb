"""`sogoms users list|role|disable|enable|logout|verify`: a tenant's users, their role and state.

A role change holds at once for the user's existing tokens (requests read the current role);
disable and logout end every session of the user, in every process within seconds. `verify`
marks addresses verified, e.g. every user's before an existing app turns `auth.verify_email`
to `required`.
"""

from __future__ import annotations

from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.errors import DomainError
from tenants.auth.services import user_logout_everywhere, user_set_active, user_set_role
from tenants.auth.verification import users_mark_verified
from tenants.cli import tenant_or_report
from tenants.usermodel import user_model


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("users", help="list a tenant's users or set a user's role")
    actions = parser.add_subparsers(dest="users_action", required=True, metavar="action")
    listing = actions.add_parser("list", help="list the users of a tenant")
    listing.add_argument("app")
    listing.set_defaults(handler=run_list)
    role = actions.add_parser("role", help="set the role of a user")
    role.add_argument("app")
    role.add_argument("email")
    role.add_argument("role", help="one of the tenant's roles (routes: roles)")
    role.set_defaults(handler=run_role)
    for name, handler, text in (
        ("disable", run_disable, "disable a user: no login, every session ends"),
        ("enable", run_enable, "enable a disabled user again"),
        ("logout", run_logout, "end every session of a user (log out everywhere)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("app")
        action.add_argument("email")
        action.set_defaults(handler=handler)
    verify = actions.add_parser(
        "verify", help="mark a user's e-mail address (or, with --all, every one) verified"
    )
    verify.add_argument("app")
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("email", nargs="?")
    which.add_argument("--all", action="store_true", dest="everyone", help="every unverified user")
    verify.set_defaults(handler=run_verify)


def run_list(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    for user in user_model(tenant).objects.order_by("id"):
        state = "" if user.is_active else " (disabled)"
        out.write(f"{user.id}\t{user.email}\t{user.role}\t{user.name}{state}")
    return 0


def run_role(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    try:
        user = user_set_role(tenant=tenant, email=options["email"], role=options["role"])
    except DomainError as exc:
        out.write(exc.message)
        return 1
    out.write(f"{tenant.app}: {user.email} is now {user.role}")
    return 0


def run_disable(options: Options, out: Out) -> int:
    return _set_active(options, out, active=False)


def run_enable(options: Options, out: Out) -> int:
    return _set_active(options, out, active=True)


def _set_active(options: Options, out: Out, *, active: bool) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    try:
        user = user_set_active(tenant=tenant, email=options["email"], active=active)
    except DomainError as exc:
        out.write(exc.message)
        return 1
    out.write(f"{tenant.app}: {user.email} is now {'enabled' if active else 'disabled'}")
    return 0


def run_logout(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    try:
        ended = user_logout_everywhere(tenant=tenant, email=options["email"])
    except DomainError as exc:
        out.write(exc.message)
        return 1
    out.write(f"{tenant.app}: {options['email']}: {ended} session(s) ended")
    return 0


def run_verify(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    try:
        marked = users_mark_verified(tenant=tenant, email=options["email"], everyone=options["everyone"])
    except DomainError as exc:
        out.write(exc.message)
        return 1
    out.write(f"{tenant.app}: {marked} address(es) marked verified")
    return 0

"""`sogoms users list|role|disable|enable|logout`: a tenant's users, their role and state.

A role change holds at once for the user's existing tokens (requests read the current role);
disable and logout end every session of the user, in every process within seconds.
"""

from __future__ import annotations

from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.errors import DomainError
from tenants.auth.services import user_logout_everywhere, user_set_active, user_set_role
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

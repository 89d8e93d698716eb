"""`sogoms users list|role`: a tenant's users, and the operator's way to set a role."""

from __future__ import annotations

from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.errors import DomainError
from tenants.auth.services import user_set_role
from tenants.cli import tenant_or_report
from tenants.usermodel import ROLES, user_model


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("users", help="list a tenant's users or set a user's role")
    actions = parser.add_subparsers(dest="users_action", required=True, metavar="action")
    listing = actions.add_parser("list", help="list the users of a tenant")
    listing.add_argument("app")
    listing.set_defaults(handler=run_list)
    role = actions.add_parser("role", help="set the role of a user")
    role.add_argument("app")
    role.add_argument("email")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(handler=run_role)


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

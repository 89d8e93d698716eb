"""`sogoms tokens purge`: forget revocation rows of tokens that have expired anyway."""

from __future__ import annotations

from sogoms_site.commands import Options, Out, Subparsers
from tenants.auth.revocation import purge_expired


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("tokens", help="token bookkeeping")
    actions = parser.add_subparsers(dest="tokens_action", required=True, metavar="action")
    purge = actions.add_parser("purge", help="delete rows of expired tokens")
    purge.set_defaults(handler=run_purge)


def run_purge(_options: Options, out: Out) -> int:
    access, refresh = purge_expired()
    out.write(f"removed {access} revoked access token(s) and {refresh} refresh token(s) past expiry")
    return 0

"""`sogoms cron list|trigger|status <app> [job]`: the scheduled jobs from the command line.

`trigger` runs the job now, in this process, and prints its output: in the embedded
default a command has no worker of its own, and an operator asking for a run wants to
see it happen. `--queue` hands it to a worker instead.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from cron import selectors, services
from cron.config import cron_settings
from cron.models import JobRun
from cron.tasks import dispatch_run
from sogoms_site.commands import Options, Out, Subparsers
from sogoms_site.errors import DomainError
from tenants.cli import tenant_or_report


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("cron", help="list, trigger or look at a tenant's scheduled jobs")
    actions = parser.add_subparsers(dest="cron_action", required=True, metavar="action")
    listing = actions.add_parser("list", help="the jobs of a tenant, their next and last runs")
    listing.add_argument("app")
    listing.set_defaults(handler=run_list)
    trigger = actions.add_parser("trigger", help="run a job now")
    trigger.add_argument("app")
    trigger.add_argument("job")
    trigger.add_argument("--queue", action="store_true", help="hand the run to a worker instead")
    trigger.set_defaults(handler=run_trigger)
    status = actions.add_parser("status", help="the latest runs of a tenant, or of one job")
    status.add_argument("app")
    status.add_argument("job", nargs="?")
    status.add_argument("--limit", type=int, default=10)
    status.set_defaults(handler=run_status)


def _line(run: JobRun) -> str:
    when = run.started_at or run.created_at
    took = f" {run.duration_ms} ms" if run.duration_ms is not None else ""
    detail = run.error or run.output
    return (
        f"#{run.pk}\t{run.job}\t{run.trigger}\tattempt {run.attempt}\t{run.status}{took}\t"
        f"{when:%Y-%m-%d %H:%M:%S}Z\t{detail[:120]}"
    )


def run_list(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    jobs = cron_settings(tenant).jobs
    latest = selectors.last_runs(tenant.app, jobs)
    now = timezone.now()
    for job in jobs.values():
        upcoming = job.schedule.next_after(now) if job.enabled else None
        state = f"next {upcoming:%Y-%m-%d %H:%M}Z" if upcoming else "disabled" if not job.enabled else "never"
        last = f"; last {latest[job.name].status}" if job.name in latest else ""
        out.write(
            f"{job.name}\t{job.kind}\t{job.schedule.expression} ({job.schedule.timezone})\t{state}{last}"
        )
    if not jobs:
        out.write(f"{tenant.app}: no jobs (config/cron/{tenant.app}.yaml)")
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        out.write(f"built-in\t{name}\tevery {entry['schedule']} s\t({entry['task']})")
    return 0


def run_trigger(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    try:
        run = services.trigger(tenant=tenant, name=options["job"])
    except DomainError as exc:
        out.write(exc.message)
        return 1
    if options["queue"]:
        queued = dispatch_run(run.pk)
        out.write(f"run #{run.pk} {'handed to a worker' if queued else 'queued; the broker is unreachable'}")
        return 0
    finished = services.execute(run.pk)
    if finished is None:  # a worker took it first
        out.write(f"run #{run.pk} was taken by a worker")
        return 0
    out.write(_line(finished))
    return 0 if finished.status == "succeeded" else 1


def run_status(options: Options, out: Out) -> int:
    tenant = tenant_or_report(options["app"], out)
    if tenant is None:
        return 2
    runs = JobRun.objects.filter(app=tenant.app)
    if options["job"]:
        runs = runs.filter(job=options["job"])
    rows = list(runs.order_by("-id")[: max(1, options["limit"])])
    for run in rows:
        out.write(_line(run))
    if not rows:
        out.write(f"{tenant.app}: no runs yet")
    return 0

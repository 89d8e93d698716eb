"""The cron config section: `config/cron/<app>.yaml`, the tenant's scheduled jobs.

```yaml
timezone: Europe/Paris          # of every job that does not say its own (default UTC)
allow_hosts: [10.1.2.3/32]      # private targets an http job may call (names or networks)
jobs:
  tasks_today:
    schedule: "0 7 * * *"       # five-field cron, or @daily, @hourly, ...
    kind: query_email           # service, http or query_email
    retries: 2                  # more attempts after a failed run
    retry_delay: 5m
    params: {...}               # what the kind needs
```

Every schedule, time zone and params block is checked when the config loads, with the
tenant's templates and resources, so a typo stops the start like any other problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cron.kinds import KINDS
from cron.schedule import CronSchedule, parse_cron
from sogoms_site.net import TargetRefused, parse_allow
from tenants.config import Tenant
from tenants.config.durations import parse_duration
from tenants.config.loader import ConfigProblem, LoadOptions, read_yaml, validate_model
from tenants.config.schema import Duration

JOB_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"


class JobBlock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str
    timezone: str | None = None
    kind: Literal["service", "http", "query_email", "backup"]
    description: str = ""
    enabled: bool = True
    retries: int = Field(default=0, ge=0, le=10)
    retry_delay: Duration = "60s"
    params: dict[str, Any] = Field(default_factory=dict)


class CronFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    allow_hosts: list[str] = Field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = Field(default_factory=dict)  # each checked on its own


@dataclass(frozen=True)
class Job:
    app: str
    name: str
    kind: str
    schedule: CronSchedule
    params: Any = field(repr=False)
    enabled: bool = True
    retries: int = 0
    retry_delay: timedelta = timedelta(seconds=60)
    description: str = ""
    allow_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class CronSettings:
    jobs: MappingProxyType  # name -> Job

    def describe(self) -> str:
        if not self.jobs:
            return "cron: no jobs"
        shown = ", ".join(
            f"{job.name} ({job.schedule.expression}{'' if job.enabled else ', disabled'})"
            for job in self.jobs.values()
        )
        return f"cron: {shown}"


def cron_settings(tenant: Tenant) -> CronSettings:
    return tenant.extensions.get("cron") or CronSettings(jobs=MappingProxyType({}))


def load_cron(tenant: Tenant, options: LoadOptions, problems: list[ConfigProblem]) -> dict[str, object]:
    path = next(
        (
            options.config_dir / "cron" / f"{tenant.app}{suffix}"
            for suffix in (".yaml", ".yml")
            if (options.config_dir / "cron" / f"{tenant.app}{suffix}").is_file()
        ),
        None,
    )
    if path is None:
        return {"cron": CronSettings(jobs=MappingProxyType({}))}
    label = f"cron/{path.name}"
    data = read_yaml(path, label, problems)
    model = validate_model(CronFile, data, label, problems) if data is not None else None
    if model is None:
        return {}
    try:
        parse_allow(model.allow_hosts)
    except TargetRefused as exc:
        problems.append(ConfigProblem(label, "allow_hosts", str(exc)))
    jobs = {}
    for name, data in model.jobs.items():
        found: list[ConfigProblem] = []
        block = validate_model(JobBlock, data, label, found)
        problems += [ConfigProblem(p.file, f"jobs.{name}.{p.path}".rstrip("."), p.message) for p in found]
        job = _job(tenant, name, block, model, label, problems) if block is not None else None
        if job is not None:
            jobs[name] = job
    return {"cron": CronSettings(jobs=MappingProxyType(jobs))}


def _job(
    tenant: Tenant, name: str, block: JobBlock, file: CronFile, label: str, problems: list[ConfigProblem]
) -> Job | None:
    where = f"jobs.{name}"
    before = len(problems)
    if not name or any(char not in JOB_NAME_CHARS for char in name):
        problems.append(ConfigProblem(label, where, f"{name!r} is not a job name (a-z, 0-9, _ and -)"))
    try:
        schedule = parse_cron(block.schedule, block.timezone or file.timezone)
    except ValueError as exc:
        problems.append(ConfigProblem(label, f"{where}.schedule", str(exc)))
        schedule = None
    kind = KINDS[block.kind]
    found: list[ConfigProblem] = []
    wrapped = validate_model(kind.params_model, {"params": block.params}, label, found)
    problems += [ConfigProblem(p.file, f"{where}.{p.path}", p.message) for p in found]
    if wrapped is not None:
        for key, message in kind.check(tenant, wrapped.params):
            problems.append(ConfigProblem(label, f"{where}.params.{key}", message))
    if len(problems) > before or schedule is None or wrapped is None:
        return None
    return Job(
        app=tenant.app,
        name=name,
        kind=block.kind,
        schedule=schedule,
        params=wrapped.params,
        enabled=block.enabled,
        retries=block.retries,
        retry_delay=parse_duration(block.retry_delay),
        description=block.description,
        allow_hosts=tuple(file.allow_hosts),
    )

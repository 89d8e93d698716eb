"""Five-field cron expressions (`m h dom mon dow`) in a time zone, and which minutes match.

The field syntax is cron's (lists, ranges, steps, names like `mon-fri`, 0 or 7 for Sunday,
`@daily` and friends); Celery's own parser reads each field. As in cron, when both the
day of month and the day of week are restricted, a day matching either one matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import ParseException, crontab_parser

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = (
    ("minute", 60, 0),
    ("hour", 24, 0),
    ("day of month", 31, 1),
    ("month", 12, 1),
    ("day of week", 7, 0),
)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    timezone: str
    minutes: frozenset
    hours: frozenset
    days: frozenset
    months: frozenset
    weekdays: frozenset  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def matches(self, moment: datetime) -> bool:
        """Does the minute of `moment` (any time zone) match, in the schedule's zone?"""
        local = moment.astimezone(self.zone)
        if local.minute not in self.minutes or local.hour not in self.hours or local.month not in self.months:
            return False
        return self._day_matches(local)

    def _day_matches(self, local: datetime) -> bool:
        day = local.day in self.days
        weekday = (local.weekday() + 1) % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day or weekday
        return day and weekday

    def next_after(self, moment: datetime, *, horizon_days: int = 400) -> datetime | None:
        """The first matching minute after `moment` (UTC), or None within the horizon."""
        local = (moment.astimezone(self.zone) + timedelta(minutes=1)).replace(second=0, microsecond=0)
        end = local + timedelta(days=horizon_days)
        while local < end:
            if local.month not in self.months or not self._day_matches(local):
                local = (local + timedelta(days=1)).replace(hour=0, minute=0)
            elif local.hour not in self.hours:
                local = (local + timedelta(hours=1)).replace(minute=0)
            elif local.minute not in self.minutes:
                local += timedelta(minutes=1)
            else:
                return local.astimezone(UTC)
        return None


def parse_cron(expression: str, timezone: str = "UTC") -> CronSchedule:
    """The schedule, or ValueError saying which field is wrong and why."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{timezone!r} is not a time zone (like UTC or Europe/Paris)") from None
    text = " ".join(str(expression).split())
    fields = MACROS.get(text.lower(), text).split(" ")
    if len(fields) != 5:
        raise ValueError(f"{expression!r} is not a cron schedule: five fields (m h dom mon dow) or @daily")
    parsed = []
    for raw, (name, size, first) in zip(fields, FIELDS, strict=True):
        field = raw.lower()
        if name == "day of week":
            field = _sunday_as_zero(field)
        try:
            values = crontab_parser(size, first).parse(field)
        except (ParseException, ValueError, IndexError, KeyError) as exc:
            raise ValueError(f"{expression!r}: the {name} field {raw!r} is not valid ({exc})") from None
        parsed.append(frozenset(values))
    return CronSchedule(
        expression=text,
        timezone=timezone,
        minutes=parsed[0],
        hours=parsed[1],
        days=parsed[2],
        months=parsed[3],
        weekdays=parsed[4],
        days_restricted=fields[2] != "*",
        weekdays_restricted=fields[4] != "*",
    )


def _sunday_as_zero(field: str) -> str:
    """cron allows 7 for Sunday; Celery's parser knows 0..6 only."""
    parts = []
    for part in field.split(","):
        if part == "7":
            part = "0"
        elif part.endswith("-7"):
            part = part[:-2] + "-6,0"
        parts.append(part)
    return ",".join(parts)

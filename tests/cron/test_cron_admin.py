"""The scheduled jobs in the operators' admin."""

from __future__ import annotations

import pytest

from cron.models import CronJob, JobRun

pytestmark = pytest.mark.django_db(databases="__all__")
HOST = "admin.example"


def test_the_jobs_page_mirrors_the_yaml_and_runs_a_job_now(operator):
    page = operator.get("/admin/cron/cronjob/", HTTP_HOST=HOST)
    assert page.status_code == 200
    assert {"greet", "digest", "paused"} <= set(
        CronJob.objects.filter(app="alpha").values_list("name", flat=True)
    )
    greet = CronJob.objects.get(app="alpha", name="greet")
    paused = CronJob.objects.get(app="alpha", name="paused")
    response = operator.post(
        "/admin/cron/cronjob/",
        {"action": "trigger", "_selected_action": [greet.pk, paused.pk]},
        HTTP_HOST=HOST,
    )
    assert response.status_code == 302
    assert list(JobRun.objects.values_list("job", "trigger")) == [("greet", "manual")]  # paused is disabled
    assert operator.get("/admin/cron/jobrun/", HTTP_HOST=HOST).status_code == 200

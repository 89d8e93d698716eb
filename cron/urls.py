"""Scheduled-job routes under each tenant's base path (`<base>/_cron/`)."""

from django.urls import include, path

from cron import views

urlpatterns = [
    # one prefix test rules them all out for every other path (a resource's)
    path(
        "_cron/",
        include(
            [
                path("jobs", views.JobsView.as_view()),
                path("jobs/<str:name>/trigger", views.TriggerView.as_view()),
                path("runs", views.RunsView.as_view()),
            ]
        ),
    ),
]

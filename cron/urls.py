"""Scheduled-job routes under each tenant's base path (`<base>/_cron/`)."""

from django.urls import path

from cron import views

urlpatterns = [
    path("_cron/jobs", views.JobsView.as_view()),
    path("_cron/jobs/<str:name>/trigger", views.TriggerView.as_view()),
    path("_cron/runs", views.RunsView.as_view()),
]

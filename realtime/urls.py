"""Push routes under each tenant's base path (before the resource routes they would shadow)."""

from django.urls import include, path

from realtime import views

urlpatterns = [
    # one prefix test rules them all out for every other path (a resource's)
    path(
        "_push/",
        include(
            [
                path("publish", views.PublishView.as_view()),
                path("notify", views.NotifyView.as_view()),
                path("broadcast", views.BroadcastView.as_view()),
            ]
        ),
    ),
]

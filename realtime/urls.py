"""Push routes under each tenant's base path (before the resource routes they would shadow)."""

from django.urls import path

from realtime import views

urlpatterns = [
    path("_push/publish", views.PublishView.as_view()),
    path("_push/notify", views.NotifyView.as_view()),
    path("_push/broadcast", views.BroadcastView.as_view()),
]

"""Mail routes under each tenant's base path (`<base>/_mail/`)."""

from django.urls import include, path

from mail import views

urlpatterns = [
    # one prefix test rules them all out for every other path (a resource's)
    path(
        "_mail/",
        include(
            [
                path("templates", views.TemplatesView.as_view()),
                path("send", views.SendView.as_view()),
                path("send_template", views.SendTemplateView.as_view()),
                path("send_bulk", views.SendBulkView.as_view()),
                path("messages", views.MessagesView.as_view()),
                path("messages/<int:message_id>", views.MessageView.as_view()),
                path("messages/<int:message_id>/requeue", views.MessageRequeueView.as_view()),
                path("messages/<int:message_id>/cancel", views.MessageCancelView.as_view()),
            ]
        ),
    ),
]

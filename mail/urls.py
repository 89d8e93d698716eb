"""Mail routes under each tenant's base path (`<base>/_mail/`)."""

from django.urls import path

from mail import views

urlpatterns = [
    path("_mail/templates", views.TemplatesView.as_view()),
    path("_mail/send", views.SendView.as_view()),
    path("_mail/send_template", views.SendTemplateView.as_view()),
    path("_mail/send_bulk", views.SendBulkView.as_view()),
    path("_mail/messages", views.MessagesView.as_view()),
    path("_mail/messages/<int:message_id>", views.MessageView.as_view()),
    path("_mail/messages/<int:message_id>/requeue", views.MessageRequeueView.as_view()),
    path("_mail/messages/<int:message_id>/cancel", views.MessageCancelView.as_view()),
]

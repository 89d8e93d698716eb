"""Auth routes, mounted under each tenant's base path."""

from django.urls import path

from tenants.auth import users_admin, views
from tenants.auth.oauth import views as oauth

urlpatterns = [
    path("auth/register", views.RegisterView.as_view()),
    path("auth/login", views.LoginView.as_view()),
    path("auth/refresh", views.RefreshView.as_view()),
    path("auth/me", views.MeView.as_view()),
    path("auth/logout", views.LogoutView.as_view()),
    path("auth/sessions", views.SessionsView.as_view()),
    path("auth/sessions/<str:session_id>", views.SessionView.as_view()),
    path("auth/password/forgot", views.PasswordForgotView.as_view()),
    path("auth/password/reset", views.PasswordResetView.as_view()),
    path("_users", users_admin.UsersView.as_view()),
    path("_users/<int:user_id>", users_admin.UserView.as_view()),
    path("auth/oauth/exchange", oauth.OAuthExchangeView.as_view()),
    path("auth/oauth/<str:provider>/start", oauth.OAuthStartView.as_view()),
    path("auth/oauth/<str:provider>/callback", oauth.OAuthCallbackView.as_view()),
    path("auth/oauth/<str:provider>/link", oauth.OAuthLinkView.as_view()),
    path("auth/me/identities", oauth.IdentitiesView.as_view()),
    path("auth/me/identities/<str:provider>", oauth.IdentityView.as_view()),
    path("auth/verify", views.VerifyView.as_view()),
    path("auth/verify/resend", views.VerifyResendView.as_view()),
]

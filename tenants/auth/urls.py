"""Auth routes, mounted under each tenant's base path."""

from django.urls import include, path

from tenants.auth import users_admin, views
from tenants.auth.oauth import views as oauth

urlpatterns = [
    # one prefix test rules them all out for every other path (a resource's)
    path(
        "auth/",
        include(
            [
                path("register", views.RegisterView.as_view()),
                path("login", views.LoginView.as_view()),
                path("refresh", views.RefreshView.as_view()),
                path("me", views.MeView.as_view()),
                path("logout", views.LogoutView.as_view()),
                path("sessions", views.SessionsView.as_view()),
                path("sessions/<str:session_id>", views.SessionView.as_view()),
                path("password/forgot", views.PasswordForgotView.as_view()),
                path("password/reset", views.PasswordResetView.as_view()),
                path("oauth/exchange", oauth.OAuthExchangeView.as_view()),
                path("oauth/<str:provider>/start", oauth.OAuthStartView.as_view()),
                path("oauth/<str:provider>/callback", oauth.OAuthCallbackView.as_view()),
                path("oauth/<str:provider>/link", oauth.OAuthLinkView.as_view()),
                path("me/identities", oauth.IdentitiesView.as_view()),
                path("me/identities/<str:provider>", oauth.IdentityView.as_view()),
                path("verify", views.VerifyView.as_view()),
                path("verify/resend", views.VerifyResendView.as_view()),
            ]
        ),
    ),
    path("_users", users_admin.UsersView.as_view()),
    path("_users/<int:user_id>", users_admin.UserView.as_view()),
]

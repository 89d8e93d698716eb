"""Resource routes, mounted under each tenant's base path after the fixed ones."""

from django.urls import path

from crud import describe_views, views

urlpatterns = [
    path("_schema", describe_views.DictionaryView.as_view()),
    path("_schema/<str:table>", describe_views.DictionaryView.as_view()),
    path("_openapi", describe_views.OpenApiView.as_view()),
    path("_docs", describe_views.swagger_ui),
    path("<str:resource>", views.CollectionView.as_view()),
    path("<str:resource>/<str:pk>", views.ItemView.as_view()),
]

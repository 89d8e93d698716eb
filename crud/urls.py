"""Resource routes, mounted under each tenant's base path after the fixed ones."""

from django.urls import path

from crud import views

urlpatterns = [
    path("<str:resource>", views.CollectionView.as_view()),
    path("<str:resource>/<str:pk>", views.ItemView.as_view()),
]

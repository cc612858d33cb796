"""Adresses de afas.financement : composées par afas/urls.py."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []

"""Adresses du banc d'essai : celles du portail, plus la page plancher (``portail.banc``)."""

from django.urls import path

from portail import banc
from portail.urls import urlpatterns as urlpatterns_portail

urlpatterns = [path("banc/plancher/", banc.plancher, name="banc_plancher"), *urlpatterns_portail]

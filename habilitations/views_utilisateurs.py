"""Squelette provisoire : remplacé par les vues réelles."""

from django.http import Http404


def utilisateurs(request, **kwargs):
    raise Http404


def utilisateur_creer(request, **kwargs):
    raise Http404


def utilisateur(request, **kwargs):
    raise Http404


def utilisateur_modifier(request, **kwargs):
    raise Http404


def utilisateur_cloturer(request, **kwargs):
    raise Http404


def utilisateur_rouvrir(request, **kwargs):
    raise Http404


def identifiant_renvoyer(request, **kwargs):
    raise Http404


def appartenances(request, **kwargs):
    raise Http404


def utilisateur_ajouter_groupe(request, **kwargs):
    raise Http404


def appartenance_modifier(request, **kwargs):
    raise Http404


def appartenance_cloturer(request, **kwargs):
    raise Http404

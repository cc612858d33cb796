"""Squelette provisoire : remplacé par les vues réelles."""

from django.http import Http404


def groupes(request, **kwargs):
    raise Http404


def groupe_creer(request, **kwargs):
    raise Http404


def groupe_habilitations(request, **kwargs):
    raise Http404


def groupe_ajouter_utilisateur(request, **kwargs):
    raise Http404


def groupe_appartenances(request, **kwargs):
    raise Http404

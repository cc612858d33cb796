"""Squelette provisoire : remplacé par les vues réelles."""

from django.http import Http404


def convention_formaliser(request, **kwargs):
    raise Http404


def convention_valider(request, **kwargs):
    raise Http404


def convention_cloturer(request, **kwargs):
    raise Http404


def avenant_enregistrer(request, **kwargs):
    raise Http404


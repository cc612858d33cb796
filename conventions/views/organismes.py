"""Squelette provisoire : remplacé par les vues réelles."""

from django.http import Http404


def types_organismes(request, **kwargs):
    raise Http404


def organismes(request, **kwargs):
    raise Http404


def organisme_enregistrer(request, **kwargs):
    raise Http404


def organisme(request, **kwargs):
    raise Http404


def agents(request, **kwargs):
    raise Http404


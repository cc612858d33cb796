"""Squelette provisoire : remplacé par les vues réelles."""

from django.http import Http404


def import_deposer(request, **kwargs):
    raise Http404


def import_apercu(request, **kwargs):
    raise Http404


def import_progression(request, **kwargs):
    raise Http404

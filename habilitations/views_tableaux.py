"""Squelette provisoire : remplacé par les vues réelles."""

from django.http import Http404


def tableaux_de_bord(request, **kwargs):
    raise Http404


def tableau_csv(request, **kwargs):
    raise Http404


def journal(request, **kwargs):
    raise Http404


def journal_csv(request, **kwargs):
    raise Http404

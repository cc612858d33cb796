"""Squelette provisoire : remplacé par les vues réelles."""

from django.http import Http404


def conventions(request, **kwargs):
    raise Http404


def convention(request, **kwargs):
    raise Http404


def convention_pdf(request, **kwargs):
    raise Http404


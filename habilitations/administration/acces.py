"""Accès des vues de « Gestion des habilitations » : la convention et le périmètre de
l'utilisateur, ou 404 (on ne révèle pas ce qui existe hors du périmètre)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from conventions.models import Convention
from habilitations import perms
from habilitations.models import Appartenance, Groupe, Utilisateur


def perimetre_ou_404(request, convention_pk: int, *, ecriture: bool = False) -> perms.Perimetre:
    """Le périmètre de l'utilisateur connecté dans la convention. 404 si la convention est hors
    de son périmètre ; 403 si elle y est mais qu'il ne peut que lire et que la page écrit."""
    conventions = perms.conventions_pour_perimetre(Convention.objects.select_related("caf", "organisme__caf"))
    convention = get_object_or_404(conventions, pk=convention_pk)
    perimetre = perms.perimetre(request.user, convention)
    if perimetre is None:
        raise Http404
    if ecriture and not perimetre.peut_ecrire:
        raise PermissionDenied
    return perimetre


def utilisateur_ou_404(perimetre: perms.Perimetre, pk: int) -> Utilisateur:
    return get_object_or_404(perms.utilisateurs_du_perimetre(perimetre), pk=pk)


def groupe_ou_404(perimetre: perms.Perimetre, pk: int) -> Groupe:
    return get_object_or_404(perms.groupes_du_perimetre(perimetre).select_related("parent", "responsable"), pk=pk)


def appartenance_ou_404(perimetre: perms.Perimetre, pk: int) -> Appartenance:
    """Une appartenance d'un groupe du périmètre et d'un utilisateur du périmètre."""
    return get_object_or_404(
        Appartenance.objects.select_related("utilisateur", "groupe").filter(
            groupe__in=perms.groupes_du_perimetre(perimetre),
            utilisateur__in=perms.utilisateurs_du_perimetre(perimetre),
        ),
        pk=pk,
    )

"""Aligner des droits objets django-guardian sur les faits datés du jour.

Une seule mécanique pour tous les droits objets du portail (administrer une convention, gérer un
groupe) : on calcule l'ensemble des paires (utilisateur, objet) qui doivent détenir le droit, on
accorde ce qui manque, on retire ce qui n'est plus dû, et chaque mouvement laisse une trace
d'audit. Les vérifications relisent toujours les dates : ces droits ne font que suivre.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import CharField, Q
from django.db.models.functions import Cast
from django.db.models.lookups import In
from guardian.models import GroupObjectPermission, UserObjectPermission

from portail.socle.audit import audit_enregistrer

logger = logging.getLogger(__name__)


def permission(modele: type[models.Model], codename: str) -> Permission:
    return Permission.objects.get(codename=codename, content_type=ContentType.objects.get_for_model(modele))


def q_droit_objet(user, modele: type[models.Model], codename: str) -> Q:
    """Sur ``modele`` : l'utilisateur détient le droit objet ``codename`` sur la ligne, donné à
    lui ou à l'un de ses groupes Django ; les mêmes lignes que ``get_objects_for_user(user,
    codename, modele, accept_global_perms=False, with_superuser=False)``.

    Posée sur les lignes déjà choisies par la requête (les groupes dont il est responsable, les
    conventions de ses mandats) : ses clés d'objets, lues une fois par l'index (utilisateur,
    …), sont comparées à ces seules lignes. ``get_objects_for_user`` en faisait une sous-requête
    sur toute la table (« id IN (SELECT id FROM table WHERE id::varchar IN (…)) »), que
    PostgreSQL lisait en entier : les 50 000 groupes du pays pour un responsable de 775 groupes,
    à chaque page. Pas de sous-requête corrélée non plus : sans statistiques (juste après un
    chargement en masse), PostgreSQL la parcourait ligne à ligne par lecture séquentielle."""
    droit = {
        "permission__content_type__app_label": modele._meta.app_label,
        "permission__content_type__model": modele._meta.model_name,
        "permission__codename": codename,
    }
    cle = Cast("pk", CharField())
    a_lui = UserObjectPermission.objects.filter(user=user, **droit).values("object_pk")
    a_ses_groupes = GroupObjectPermission.objects.filter(group__in=user.groups.all(), **droit).values("object_pk")
    return Q(In(cle, a_lui)) | Q(In(cle, a_ses_groupes))


@transaction.atomic
def aligner(
    *,
    modele: type[models.Model],
    codename: str,
    attendus: set[tuple[int, str]],
    objets: Iterable[int] | None = None,
    jour_iso: str = "",
) -> tuple[int, int]:
    """Accorde les paires ``attendus`` (utilisateur, clé d'objet en texte) absentes et retire les
    présentes qui n'y sont pas, en se limitant à ``objets`` s'il est donné. Renvoie (accordés,
    retirés)."""
    perm = permission(modele, codename)
    existants_qs = UserObjectPermission.objects.filter(permission=perm)
    if objets is not None:
        existants_qs = existants_qs.filter(object_pk__in=[str(o) for o in objets])
    existants = {(u, o): pk for pk, u, o in existants_qs.values_list("pk", "user_id", "object_pk")}
    a_accorder = attendus - existants.keys()
    a_retirer = existants.keys() - attendus
    if a_retirer:
        UserObjectPermission.objects.filter(pk__in=[existants[cle] for cle in a_retirer]).delete()
    UserObjectPermission.objects.bulk_create(
        UserObjectPermission(user_id=u, permission=perm, content_type_id=perm.content_type_id, object_pk=o)
        for u, o in a_accorder
    )
    cibles = modele._default_manager.in_bulk([int(o) for _u, o in a_accorder | a_retirer])
    # Le journal se lit par des personnes : le libellé du droit et « NOM Prénom (identifiant) »
    # (str de l'utilisateur), jamais le nom de code ni la clé en base.
    utilisateurs = get_user_model()._default_manager.in_bulk([u for u, _o in a_accorder | a_retirer])
    for action, lignes in (("droit_accorder", a_accorder), ("droit_retirer", a_retirer)):
        for u, o in sorted(lignes):
            audit_enregistrer(
                par=None,
                action=action,
                cible=cibles.get(int(o)),
                apres={
                    "permission": perm.name,
                    "utilisateur": str(utilisateurs.get(u, u)),
                    "jour": jour_iso,
                },
            )
    if a_accorder or a_retirer:
        logger.info("droits %s : %d accordés, %d retirés", codename, len(a_accorder), len(a_retirer))
    return len(a_accorder), len(a_retirer)

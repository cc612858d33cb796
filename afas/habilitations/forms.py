"""« Administration des profils » : la recherche HABILITATIONS D'ACTION SOCIALE et le formulaire
HABILITER UN UTILISATEUR en trois étapes. Les règles restent dans ``afas.services``."""

from __future__ import annotations

from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from django.forms.models import ModelChoiceIterator

from afas.enums import EtatHabilitation, NatureActivite, Portee, RoleAfas, TypeActivite
from afas.models import Activite, LieuImplantation, membre_declarer
from conventions.models import Convention
from habilitations.models import Utilisateur
from portail.socle.dates import aujourdhui, q_ouvert
from portail.socle.forms import GABARIT_CASE, GABARIT_RADIOS, PortailForm, champ_date
from portail.socle.listes import ListeDeroulanteLongue, cle_primaire

OUI_NON = [("oui", "Oui"), ("non", "Non")]


class _ChoixEnUneRequete(ModelChoiceIterator):
    """Les choix lus par une requête ordinaire. ``ModelChoiceIterator`` passe par
    ``QuerySet.iterator()``, sous PostgreSQL un curseur côté serveur (DECLARE … WITH HOLD, FETCH,
    CLOSE : trois allers-retours à chaque affichage de la recherche) ; une poignée de partenaires
    n'a pas besoin d'être lue par paquets."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class ConventionChoiceField(forms.ModelChoiceField):
    iterator = _ChoixEnUneRequete

    def label_from_instance(self, obj: Convention) -> str:
        return obj.organisme.raison_sociale


class UtilisateurChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Utilisateur) -> str:
        return f"{obj.nom.upper()} {obj.prenom}"


class RechercheForm(PortailForm):
    # Les listes déroulantes écrites sans un gabarit par option (``ListeDeroulanteLongue``, même
    # balisage) : les quatre coûtaient 1 ms à chaque recherche.
    partenaire = ConventionChoiceField(
        label="Partenaire",
        queryset=Convention.objects.none(),
        required=False,
        empty_label="Tous",
        widget=ListeDeroulanteLongue,
    )
    utilisateur = forms.CharField(label="Utilisateur", required=False, max_length=100)
    role = forms.ChoiceField(
        label="Rôle", choices=[("", "Tous"), *RoleAfas.choices], required=False, widget=ListeDeroulanteLongue
    )
    activite = forms.CharField(label="Activité", required=False, max_length=200)
    type_activite = forms.ChoiceField(
        label="Type d'activité",
        choices=[("", "Tous"), *TypeActivite.choices],
        required=False,
        widget=ListeDeroulanteLongue,
    )
    nature = forms.ChoiceField(
        label="Nature d'activité",
        choices=[("", "Toutes"), *NatureActivite.choices],
        required=False,
        widget=ListeDeroulanteLongue,
    )
    etat = forms.ChoiceField(
        label="État de l'habilitation",
        choices=EtatHabilitation.choices,
        widget=forms.RadioSelect,
        template_name=GABARIT_RADIOS,
        error_messages={"required": "Choisissez l'état de l'habilitation."},
    )
    lieux = forms.ChoiceField(
        label="Lieux d'implantation",
        choices=OUI_NON,
        widget=forms.RadioSelect,
        template_name=GABARIT_RADIOS,
        required=False,
    )

    def __init__(self, *args, conventions: QuerySet[Convention], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partenaire"].queryset = conventions.select_related("organisme").order_by(
            "organisme__raison_sociale"
        )


def declarants(convention: Convention | None, sauf: Utilisateur) -> QuerySet[Utilisateur]:
    """Étape 1 : les comptes ouverts de la convention qui appartiennent aujourd'hui à un groupe
    donnant AFAS-DECLARER ; jamais l'habilitateur lui-même."""
    if convention is None:
        return Utilisateur.objects.none()
    jour = aujourdhui()
    membres = membre_declarer(jour, utilisateur=OuterRef("pk"), convention=convention)
    return (
        Utilisateur.objects.filter(q_ouvert(jour), convention=convention)
        .filter(Exists(membres))
        .exclude(pk=sauf.pk)
        .order_by("nom", "prenom", "pk")
    )


class HabiliterForm(PortailForm):
    partenaire = ConventionChoiceField(
        label="Pour le partenaire ...",
        queryset=Convention.objects.none(),
        error_messages={"required": "Choisissez le partenaire.", "invalid_choice": "Choisissez le partenaire."},
    )
    utilisateur = UtilisateurChoiceField(
        label="Pour l'utilisateur ...",
        queryset=Utilisateur.objects.none(),
        error_messages={
            "required": "Choisissez l'utilisateur.",
            "invalid_choice": "Cet utilisateur n'appartient pas au groupe AFAS-DECLARER de ce partenaire.",
        },
    )
    role = forms.ChoiceField(
        label="Au rôle de ...",
        choices=[("", "Choisir"), *RoleAfas.choices],
        error_messages={"required": "Choisissez le rôle."},
    )
    date_ouverture = champ_date("À partir du ...", initial=aujourdhui)
    type_activite = forms.ChoiceField(
        label="Type d'activité", choices=[("", "Tous"), *TypeActivite.choices], required=False
    )
    nature = forms.ChoiceField(
        label="Nature d'activité", choices=[("", "Toutes"), *NatureActivite.choices], required=False
    )
    portee = forms.ChoiceField(
        label="Je souhaite créer des habilitations sur ...",
        choices=Portee.choices,
        initial=Portee.ACTIVITES,
        widget=forms.RadioSelect,
        template_name=GABARIT_RADIOS,
    )
    activites = forms.ModelMultipleChoiceField(
        label="Activités", queryset=Activite.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    lieux = forms.ModelMultipleChoiceField(
        label="Lieux d'implantation",
        queryset=LieuImplantation.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    toutes = forms.BooleanField(label="Sélectionner toutes les activités", required=False, template_name=GABARIT_CASE)

    def __init__(self, *args, conventions: QuerySet[Convention], habilitateur: Utilisateur, **kwargs):
        super().__init__(*args, **kwargs)
        conventions = conventions.select_related("organisme").order_by("organisme__raison_sociale")
        self.fields["partenaire"].queryset = conventions
        convention = self._convention(conventions)
        self.convention = convention
        self.fields["utilisateur"].queryset = declarants(convention, habilitateur)
        jour = aujourdhui()
        activites = Activite.objects.none()
        if convention is not None:
            activites = Activite.objects.ouverts(jour).filter(organisme_id=convention.organisme_id)
            type_activite, nature = self._valeur("type_activite"), self._valeur("nature")
            if type_activite in TypeActivite.values:
                activites = activites.filter(type_activite=type_activite)
            if nature in NatureActivite.values:
                activites = activites.filter(nature=nature)
        self.fields["activites"].queryset = activites.order_by("libelle", "pk")
        self.fields["lieux"].queryset = (
            LieuImplantation.objects.ouverts(jour)
            .filter(activite__in=activites)
            .select_related("activite")
            .order_by("activite__libelle", "activite_id", "libelle", "pk")
        )
        if self.portee_choisie == Portee.LIEUX:
            self.renommer(toutes="Sélectionner tous les lieux d'implantation de toutes les activités")

    def _valeur(self, nom: str) -> str:
        if self.is_bound:
            return self.data.get(self.add_prefix(nom), "") or ""
        return str(self.initial.get(nom, "") or "")

    @property
    def portee_choisie(self) -> str:
        return self._valeur("portee") or Portee.ACTIVITES

    def _convention(self, conventions: QuerySet[Convention]) -> Convention | None:
        valeur = self._valeur("partenaire")
        liste = list(conventions)
        if valeur:
            # Une clé reçue : chiffres ASCII seulement (« ² » passe isdigit() mais pas int()).
            pk = cle_primaire(valeur)
            return next((c for c in liste if c.pk == pk), None)
        if len(liste) == 1:
            self.initial.setdefault("partenaire", liste[0].pk)
            return liste[0]
        return None

    def clean(self):
        donnees = super().clean()
        portee = donnees.get("portee")
        if portee == Portee.LIEUX:
            if donnees.get("toutes"):
                lieux = list(self.fields["lieux"].queryset)
            else:
                # « Sélectionner tous les lieux d'implantation de l'activité X » : parmi les lieux
                # proposés seulement.
                par_activite = [pk for v in self.data.getlist("toutes_activite") if (pk := cle_primaire(v))]
                lieux = list(donnees.get("lieux") or [])
                lieux += [
                    lieu
                    for lieu in self.fields["lieux"].queryset.filter(activite_id__in=par_activite)
                    if lieu not in lieux
                ]
            donnees["activites_choisies"], donnees["lieux_choisis"] = [], lieux
            if not lieux:
                self.add_error("lieux", "La sélection d'au moins un lieu d'implantation est obligatoire.")
            elif donnees.get("role") and donnees["role"] != RoleAfas.FDA:
                self.add_error(
                    "role", "Seul le rôle de fournisseur de données d'activité se donne sur des lieux d'implantation."
                )
        else:
            activites = (
                list(self.fields["activites"].queryset)
                if donnees.get("toutes")
                else list(donnees.get("activites") or [])
            )
            donnees["activites_choisies"], donnees["lieux_choisis"] = activites, []
            if not activites:
                self.add_error("activites", "La sélection d'au moins une activité est obligatoire.")
        return donnees


class SuppressionForm(PortailForm):
    confirmation = forms.BooleanField(
        label="Je confirme la suppression : l'habilitation prend fin aujourd'hui et passe en Historique.",
        template_name=GABARIT_CASE,
        error_messages={"required": "Cochez la case pour confirmer la suppression."},
    )

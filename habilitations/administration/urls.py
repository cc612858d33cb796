"""« Gestion des habilitations » d'une convention : utilisateurs, groupes, appartenances,
tableaux de bord, journal, imports. Toutes les adresses commencent par la convention."""

from django.urls import URLPattern, path

from habilitations.administration.groupes import views as views_groupes
from habilitations.administration.import_csv import views as views_import
from habilitations.administration.journal import views as views_journal
from habilitations.administration.tableaux_de_bord import tableaux
from habilitations.administration.tableaux_de_bord import views as views_tableaux
from habilitations.administration.utilisateurs import views as views_utilisateurs

app_name = "gestion"

U = "partenaires/conventions/<int:convention>/"

urlpatterns = [
    # Utilisateurs et appartenances.
    path(U + "utilisateurs/", views_utilisateurs.utilisateurs, name="utilisateurs"),
    path(U + "utilisateurs/creer/", views_utilisateurs.utilisateur_creer, name="utilisateur_creer"),
    path(U + "utilisateurs/<int:pk>/", views_utilisateurs.utilisateur, name="utilisateur"),
    path(U + "utilisateurs/<int:pk>/modifier/", views_utilisateurs.utilisateur_modifier, name="utilisateur_modifier"),
    path(U + "utilisateurs/<int:pk>/cloturer/", views_utilisateurs.utilisateur_cloturer, name="utilisateur_cloturer"),
    path(U + "utilisateurs/<int:pk>/rouvrir/", views_utilisateurs.utilisateur_rouvrir, name="utilisateur_rouvrir"),
    path(
        U + "utilisateurs/<int:pk>/renvoyer-identifiant/",
        views_utilisateurs.identifiant_renvoyer,
        name="identifiant_renvoyer",
    ),
    path(U + "utilisateurs/<int:pk>/appartenances/", views_utilisateurs.appartenances, name="appartenances"),
    path(
        U + "utilisateurs/<int:pk>/ajouter-a-un-groupe/",
        views_utilisateurs.utilisateur_ajouter_groupe,
        name="utilisateur_ajouter_groupe",
    ),
    path(
        U + "appartenances/<int:pk>/modifier/",
        views_utilisateurs.appartenance_modifier,
        name="appartenance_modifier",
    ),
    path(
        U + "appartenances/<int:pk>/cloturer/",
        views_utilisateurs.appartenance_cloturer,
        name="appartenance_cloturer",
    ),
    # Groupes.
    path(U + "groupes/", views_groupes.groupes, name="groupes"),
    path(U + "groupes/creer/", views_groupes.groupe_creer, name="groupe_creer"),
    path(U + "groupes/<int:pk>/habilitations/", views_groupes.groupe_habilitations, name="groupe_habilitations"),
    path(
        U + "groupes/<int:pk>/ajouter-utilisateur/",
        views_groupes.groupe_ajouter_utilisateur,
        name="groupe_ajouter_utilisateur",
    ),
    path(U + "groupes/<int:pk>/appartenances/", views_groupes.groupe_appartenances, name="groupe_appartenances"),
    # Tableaux de bord et journal.
    path(U + "tableaux-de-bord/", views_tableaux.tableaux_de_bord, name="tableaux_de_bord"),
    path(U + "tableaux-de-bord/<slug:tableau>.csv", views_tableaux.tableau_csv, name="tableau_csv"),
    path(U + "journal/", views_journal.journal, name="journal"),
    path(U + "journal.csv", views_journal.journal_csv, name="journal_csv"),
    # Import CSV.
    path(U + "utilisateurs/importer/", views_import.import_deposer, name="import_deposer"),
    path(U + "imports/<int:pk>/", views_import.import_apercu, name="import_apercu"),
    path(U + "imports/<int:pk>/progression/", views_import.import_progression, name="import_progression"),
]


def avec_complements_tableaux(complements: tableaux.Complements) -> list[URLPattern]:
    """Ces adresses, « Mes tableaux de bord » recevant ``complements`` : la coquille y branche
    les lignes des couches supérieures (AFAS), que cette couche ne peut pas importer. Mêmes
    chemins, mêmes noms."""
    return [
        URLPattern(p.pattern, p.callback, {**p.default_args, "complements": complements}, p.name)
        if p.name == "tableaux_de_bord"
        else p
        for p in urlpatterns
    ]

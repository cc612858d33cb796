"""La file de la Caf paginée par clés (``portail.socle.listes.PaginateurParTableauDeCles``) :
les mêmes lignes, dans le même ordre, que le tri complet (date de demande, puis clé), à chaque
page, égalités de dates comprises ; une page au-delà de la dernière donne la dernière. Triée par
partenaire, utilisateur, activité ou date de début (copies de l'habilitation que porte la
demande) : le même ordre que le tri lu à travers l'habilitation, égalités comprises."""

import datetime

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from afas import services
from afas.enums import DecisionCaf, NatureActivite, RoleAfas, TypeActivite
from afas.models import Activite, HabilitationAfas, ValidationApprobateur
from portail.socle.dates import aujourdhui
from tests import factories
from tests.conftest import connecter_verifie

pytestmark = pytest.mark.django_db

NOMBRE = 70


@pytest.fixture
def validees(convention, administrateur, declarant):
    """70 demandes validées à trois dates seulement (égalités départagées par la clé), créées
    dans le désordre des dates ; une demande en attente (hors filtre)."""
    activites = Activite.objects.bulk_create(
        Activite(
            organisme=convention.organisme,
            numero_equipement=f"V-{i:04d}",
            libelle=f"Accueil {i:04d}",
            type_activite=TypeActivite.ALSH,
            nature=NatureActivite.PERISCOLAIRE,
            date_ouverture=aujourdhui() - datetime.timedelta(days=30),
        )
        for i in range(NOMBRE + 1)
    )
    habilitations = HabilitationAfas.objects.bulk_create(
        HabilitationAfas(
            utilisateur=declarant,
            convention=convention,
            activite=a,
            role=RoleAfas.APPROBATEUR,
            date_ouverture=aujourdhui(),
        )
        for a in activites
    )
    maintenant = timezone.now()
    dates = [maintenant - datetime.timedelta(days=j) for j in (2, 9, 5)]
    ValidationApprobateur.objects.bulk_create(
        ValidationApprobateur(
            habilitation=h,
            caf_id=convention.caf_id,
            demandee_par=administrateur,
            demandee_le=dates[i % 3],
            decision=DecisionCaf.VALIDEE,
            decidee_le=maintenant,
            **ValidationApprobateur.champs_copies(h),
        )
        for i, h in enumerate(habilitations[:NOMBRE])
    )
    ValidationApprobateur.objects.create(
        habilitation=habilitations[NOMBRE],
        caf_id=convention.caf_id,
        **ValidationApprobateur.champs_copies(habilitations[NOMBRE]),
    )
    return list(
        ValidationApprobateur.objects.filter(decision=DecisionCaf.VALIDEE)
        .order_by("demandee_le", "pk")
        .values_list("pk", flat=True)
    )


def _cles(client, **params) -> tuple[int, list[int]]:
    reponse = client.get(reverse("afas:validations"), params)
    assert reponse.status_code == 200
    page = reponse.context["page"]
    return page.number, [v.pk for v in page.object_list]


def test_pages_des_validees_dans_l_ordre_du_tri_complet(client, agent_caf, validees):
    connecter_verifie(client, agent_caf)
    assert len(validees) == NOMBRE
    assert _cles(client, decision=DecisionCaf.VALIDEE) == (1, validees[:25])
    assert _cles(client, decision=DecisionCaf.VALIDEE, page="2") == (2, validees[25:50])
    # Page 1 000 (le banc) : la dernière, ses 20 lignes.
    assert _cles(client, decision=DecisionCaf.VALIDEE, page="1000") == (3, validees[50:])
    # Ordre décroissant demandé : date décroissante, la clé départage toujours en croissant.
    decroissant = list(
        ValidationApprobateur.objects.filter(decision=DecisionCaf.VALIDEE)
        .order_by("-demandee_le", "pk")
        .values_list("pk", flat=True)
    )
    assert _cles(client, decision=DecisionCaf.VALIDEE, tri="-demandee_le", page="2") == (2, decroissant[25:50])


def test_file_en_attente_inchangee(client, agent_caf, validees):
    connecter_verifie(client, agent_caf)
    (attente,) = ValidationApprobateur.objects.filter(decision=DecisionCaf.EN_ATTENTE).values_list("pk", flat=True)
    assert _cles(client) == (1, [attente])


# Le tri d'avant les copies : à travers l'habilitation (compte, convention, partenaire, activité).
TRI_PAR_L_HABILITATION = {
    "partenaire": ("habilitation__convention__organisme__raison_sociale",),
    "utilisateur": ("habilitation__utilisateur__nom", "habilitation__utilisateur__prenom"),
    "activite": ("habilitation__activite__libelle",),
    "date_ouverture": ("habilitation__date_ouverture",),
}


@pytest.fixture
def validees_a_egalites(caf, convention, convention_autre_partenaire, administrateur):
    """60 demandes validées, créées à rebours, sur trois partenaires dont deux de même raison
    sociale, six comptes dont quatre homonymes complets et un de même nom, quatre libellés
    d'activité, trois dates de début et trois dates de demande : chaque tri a des égalités à
    départager (par la date de demande, puis la clé)."""
    autre = convention_autre_partenaire.organisme
    autre.raison_sociale = "Centre social des Tilleuls"
    autre.save(update_fields=["raison_sociale"])
    homonyme = factories.ConventionFactory(
        organisme=factories.OrganismeFactory(
            caf=caf, raison_sociale=convention_autre_partenaire.organisme.raison_sociale
        )
    )
    conventions = [convention, convention_autre_partenaire, homonyme]
    comptes = [
        factories.creer_utilisateur(nom=nom, prenom=prenom, organisme=c.organisme)
        for c in conventions
        for nom, prenom in (("Martin", "Léa"), ("Martin", "Léa"))
    ]
    comptes[1].nom, comptes[1].prenom = "Abadie", "Zoé"
    comptes[3].prenom = "Anne"
    for compte in (comptes[1], comptes[3]):
        compte.save(update_fields=["nom", "prenom"])
    jour = aujourdhui()
    habilitations = []
    for i in range(60):
        c = conventions[i % 3]
        activite = Activite.objects.create(
            organisme=c.organisme,
            numero_equipement=f"T-{i:04d}",
            libelle=("Crèche", "Accueil de loisirs", "Relais", "crèche")[i % 4],
            type_activite=TypeActivite.EAJE,
            date_ouverture=jour - datetime.timedelta(days=400),
        )
        habilitations.append(
            HabilitationAfas(
                utilisateur=comptes[(i % 3) * 2 + (i // 3) % 2],
                convention=c,
                activite=activite,
                role=RoleAfas.APPROBATEUR,
                date_ouverture=jour - datetime.timedelta(days=(i * 7) % 3),
            )
        )
    HabilitationAfas.objects.bulk_create(habilitations)
    maintenant = timezone.now()
    ValidationApprobateur.objects.bulk_create(
        ValidationApprobateur(
            habilitation=h,
            caf_id=caf.pk,
            demandee_par=administrateur,
            demandee_le=maintenant - datetime.timedelta(days=(i * 5) % 3),
            decision=DecisionCaf.VALIDEE,
            decidee_le=maintenant,
            **ValidationApprobateur.champs_copies(h),
        )
        for i, h in enumerate(reversed(habilitations))
    )


@pytest.mark.parametrize("sens", ["", "-"], ids=["croissant", "decroissant"])
@pytest.mark.parametrize("cle", list(TRI_PAR_L_HABILITATION))
def test_tris_par_les_copies_dans_l_ordre_du_tri_par_l_habilitation(client, agent_caf, validees_a_egalites, cle, sens):
    ordre = [F(c).desc(nulls_first=True) if sens else F(c).asc(nulls_last=True) for c in TRI_PAR_L_HABILITATION[cle]]
    attendu = list(
        ValidationApprobateur.objects.filter(decision=DecisionCaf.VALIDEE)
        .order_by(*ordre, "demandee_le", "pk")
        .values_list("pk", flat=True)
    )
    assert len(attendu) == 60
    connecter_verifie(client, agent_caf)
    lues = []
    for page in ("1", "2", "3"):
        numero, cles = _cles(client, decision=DecisionCaf.VALIDEE, tri=sens + cle, page=page)
        assert numero == int(page)
        lues += cles
    assert lues == attendu
    # Page 1 000 (le banc) : la dernière.
    assert _cles(client, decision=DecisionCaf.VALIDEE, tri=sens + cle, page="1000") == (3, attendu[50:])


def test_la_demande_copie_son_habilitation(administrateur, declarant, convention):
    """Le service qui écrit la demande y copie compte, partenaire, activité et date de début."""
    activite = Activite.objects.create(
        organisme=convention.organisme,
        numero_equipement="C-0001",
        libelle="Crèche des Lilas",
        type_activite=TypeActivite.EAJE,
        date_ouverture=aujourdhui() - datetime.timedelta(days=30),
    )
    debut = aujourdhui() + datetime.timedelta(days=4)
    (h,) = services.habilitation_afas_affecter(
        par=administrateur, utilisateur=declarant, role=RoleAfas.APPROBATEUR, date_ouverture=debut, activites=[activite]
    )
    v = ValidationApprobateur.objects.get(habilitation=h)
    assert (v.utilisateur_id, v.organisme_id, v.activite_id, v.date_ouverture) == (
        declarant.pk,
        convention.organisme_id,
        activite.pk,
        debut,
    )


@pytest.mark.parametrize(
    ("filtre", "par_l_habilitation"),
    [
        ({"partenaire": "tilleuls"}, {"habilitation__convention__organisme__raison_sociale__icontains": "tilleuls"}),
        ({"utilisateur": "martin"}, {"habilitation__utilisateur__nom__icontains": "martin"}),
        ({"utilisateur": "léa"}, {"habilitation__utilisateur__prenom__icontains": "léa"}),
        ({"activite": "crèche"}, {"habilitation__activite__libelle__icontains": "crèche"}),
    ],
    ids=["partenaire", "utilisateur_nom", "utilisateur_prenom", "activite"],
)
def test_filtres_par_les_copies_gardent_les_lignes_du_filtre_par_l_habilitation(
    client, agent_caf, validees_a_egalites, filtre, par_l_habilitation
):
    attendu = list(
        ValidationApprobateur.objects.filter(decision=DecisionCaf.VALIDEE, **par_l_habilitation)
        .order_by("organisme__raison_sociale", "demandee_le", "pk")
        .values_list("pk", flat=True)
    )
    assert 0 < len(attendu) < 60
    connecter_verifie(client, agent_caf)
    lues = []
    for page in ("1", "2", "3")[: (len(attendu) + 24) // 25]:
        lues += _cles(client, decision=DecisionCaf.VALIDEE, tri="partenaire", page=page, **filtre)[1]
    assert lues == attendu


def test_lignes_de_la_file_comme_le_gabarit(client, agent_caf, convention, administrateur, declarant):
    """Les lignes écrites par la vue (``afas.validation.views._lignes``) : textes échappés, jours
    à l'heure de Paris, décision avec son auteur, sa date et son motif, boutons pour les seules
    demandes en attente."""
    organisme = convention.organisme
    organisme.raison_sociale = "Crèches <Les Petits> & Cie"
    organisme.save(update_fields=["raison_sociale"])
    declarant.nom, declarant.prenom = "d'Arc", "Jeanne"
    declarant.save(update_fields=["nom", "prenom"])
    habilitations = [
        HabilitationAfas.objects.create(
            utilisateur=declarant,
            convention=convention,
            activite=Activite.objects.create(
                organisme=organisme,
                numero_equipement=f"L-{i}",
                libelle=f'Accueil "{i}" <périscolaire>',
                type_activite=TypeActivite.ALSH,
                date_ouverture=datetime.date(2026, 1, 1),
            ),
            role=RoleAfas.APPROBATEUR,
            date_ouverture=datetime.date(2026, 3, 2),
        )
        for i in range(2)
    ]
    # 23 h 30 UTC le 14 mars : le 15 mars à Paris.
    tard = datetime.datetime(2026, 3, 14, 23, 30, tzinfo=datetime.UTC)
    attente = ValidationApprobateur.objects.create(
        habilitation=habilitations[0],
        caf_id=convention.caf_id,
        demandee_par=administrateur,
        demandee_le=tard,
        **ValidationApprobateur.champs_copies(habilitations[0]),
    )
    refusee = ValidationApprobateur.objects.create(
        habilitation=habilitations[1],
        caf_id=convention.caf_id,
        demandee_le=tard,
        decision=DecisionCaf.REFUSEE,
        decidee_par=agent_caf,
        decidee_le=tard,
        motif="Pas <b>habilité</b>",
        **ValidationApprobateur.champs_copies(habilitations[1]),
    )
    connecter_verifie(client, agent_caf)
    html = client.get(reverse("afas:validations")).content.decode()
    assert (
        '<tr><td class="fr-cell--multiline">Crèches &lt;Les Petits&gt; &amp; Cie</td>'
        f"<td>D&#x27;ARC Jeanne ({declarant.identifiant})</td>"
        '<td class="fr-cell--multiline">Accueil &quot;0&quot; &lt;périscolaire&gt;</td>'
        f"<td>02/03/2026</td><td>{administrateur.get_full_name()}</td><td>15/03/2026</td><td>{DecisionCaf.EN_ATTENTE.label}</td>"
    ) in html
    assert f'href="{reverse("afas:valider", args=[attente.pk])}"' in html
    assert f'href="{reverse("afas:refuser", args=[attente.pk])}"' in html
    html = client.get(reverse("afas:validations"), {"decision": DecisionCaf.REFUSEE}).content.decode()
    assert (
        f"<td>—</td><td>15/03/2026</td><td>{DecisionCaf.REFUSEE.label} par {agent_caf.get_full_name()} le 15/03/2026"
        " — Pas &lt;b&gt;habilité&lt;/b&gt;</td><td></td></tr>"
    ) in html
    assert reverse("afas:valider", args=[refusee.pk]) not in html

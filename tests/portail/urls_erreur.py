"""Les URL du portail, plus une vue qui échoue (tests des journaux d'erreur)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from portail.urls import urlpatterns as urlpatterns_portail


@login_not_required
def echoue(request):
    raise RuntimeError("panne simulée pour le test")


urlpatterns = [path("test-erreur/", echoue), *urlpatterns_portail]

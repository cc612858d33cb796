"""Les adresses du portail, plus une vue qui plante : pour voir la page 500 réelle."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from portail.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


@login_not_required
def plantage(request):
    raise RuntimeError("plantage voulu par le test")


urlpatterns = [path("test/plantage/", plantage), *urlpatterns]

"""The portal and the API speak the reader's language: the browser's Accept-Language, or the switcher's
choice kept in a cookie; dates read "3 minutes ago" / "il y a 3 minutes" with the exact time on hover."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from console.models import Project, Role, SyncRun
from console.templatetags.portal import when
from tests.factories import make_member, make_repository, make_user

pytestmark = pytest.mark.django_db


def test_the_browser_language_picks_french(client_for, user, owner_project):
    client = client_for(user)

    english = client.get("/").content.decode()
    french = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9,en;q=0.5").content.decode()

    assert '<html lang="en">' in english and "My organizations" in english
    assert '<html lang="fr">' in french and "Mes organisations" in french and "My organizations" not in french


def test_the_switcher_keeps_the_choice_over_the_browser_language(client_for, user, owner_project):
    client = client_for(user)

    switched = client.post("/i18n/setlang/", {"language": "fr", "next": f"/projects/{owner_project.pk}/"})
    page = client.get(f"/projects/{owner_project.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert switched.status_code == 302 and switched["Location"] == f"/projects/{owner_project.pk}/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    assert "Dépôts" in page and "Reprovisionner" in page and "Re-provision" not in page
    assert 'value="en" lang="en"' in page  # the switcher offers the way back


def test_portal_messages_and_form_errors_are_french(client_for, user, owner_project):
    client = client_for(user)
    client.post("/i18n/setlang/", {"language": "fr"})

    queued = client.post(f"/projects/{owner_project.pk}/provision/", follow=True).content.decode()
    refused = client.post("/organizations/new/", {"slug": "acme"}).content.decode()

    assert re.search(r"Provisionnement n° \d+ en attente\.", queued)
    assert "l&#x27;organisation &#x27;acme&#x27; existe déjà" in refused
    assert 'aria-invalid="true"' in refused and 'aria-describedby="id_slug_helptext id_slug-error"' in refused
    assert 'id="id_slug-error"' in refused and 'id="id_slug_helptext"' in refused


def test_api_details_follow_accept_language(user, owner_project):
    reader = make_user("rita")
    make_member(reader, owner_project, Role.READER)
    repository = make_repository(owner_project, "app")
    client = Client()
    client.force_login(reader)

    english = client.post(f"/api/v1/repositories/{repository.pk}/sync/", content_type="application/json")
    french = client.post(f"/api/v1/repositories/{repository.pk}/sync/", content_type="application/json",
                         HTTP_ACCEPT_LANGUAGE="fr")
    missing = client.get("/api/v1/no-such-thing/", HTTP_ACCEPT_LANGUAGE="fr")

    assert english.status_code == french.status_code == 403
    assert english.json() == {"detail": "requesting a sync needs the developer, maintainer or owner role on "
                                        "the project", "code": "permission_denied"}
    assert french.json() == {"detail": "demander une synchronisation demande le rôle développeur, mainteneur ou "
                                       "propriétaire sur le projet", "code": "permission_denied"}
    assert missing.json() == {"detail": "introuvable", "code": "not_found"}
    assert not SyncRun.objects.exists()


def test_dates_are_relative_with_the_exact_time_and_zone_on_hover():
    moment = timezone.now() - timedelta(minutes=3)
    with translation.override("en"):
        english = str(when(moment))
    with translation.override("fr"):
        french = str(when(moment))

    assert english.startswith(f'<time datetime="{moment.isoformat()}" title="')
    assert english.endswith(">3\xa0minutes ago</time>") and " UTC\"" in english
    assert french.endswith(">il y a 3\xa0minutes</time>")
    assert f'{moment:%H:%M:%S} UTC"' in french
    assert when(None) == "—"


def test_the_admin_speaks_django_french(client_for):
    admin = make_user("root", staff=True)
    admin.is_superuser = True
    admin.save()
    page = client_for(admin).get("/admin/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Administration" in page and "Déconnexion" in page


def test_model_labels_are_translated():
    with translation.override("fr"):
        assert str(Project.Status.READY.label) == "Prêt"

"""The console's frame: its own sign-in page, sign-out, navigation by role, the home page."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "console-pass-2468"


def person(username, *groups, superuser=False):
    user = UserFactory(username=username, groups=list(groups), is_superuser=superuser)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def board_member(db):
    return person("bea", Role.BOARD)


def test_the_sign_in_page_is_govregs_own(client):
    page = client.get("/login/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sign in to govreg" in html
    assert "Django administration" not in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_anonymous_pages_send_to_the_sign_in_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_signing_in_lands_on_home_and_signing_out_needs_a_post(board_member):
    client = Client(enforce_csrf_checks=True)
    form = client.get("/login/")
    token = form.cookies["csrftoken"].value
    response = client.post(
        "/login/",
        {"username": "bea", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "What needs me" in home.content.decode()
    assert 'action="/logout/"' in home.content.decode()

    assert client.get("/logout/").status_code == 405  # a link cannot sign anyone out
    token = client.cookies["csrftoken"].value
    out = client.post("/logout/", {"csrfmiddlewaretoken": token})
    assert out.status_code == 302 and out["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_a_post_without_csrf_token_is_refused(board_member):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "bea", "password": PASSWORD})
    assert response.status_code == 403


def test_a_wrong_password_says_so_without_naming_which_part(board_member, client):
    response = client.post("/login/", {"username": "bea", "password": "nope"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_the_admin_link_is_for_administrators_only(board_member, db):
    admin = person("root", superuser=True)
    for user, shown in ((board_member, False), (admin, True)):
        client = Client()
        client.force_login(user)
        html = client.get("/").content.decode()
        assert ('href="/admin/"' in html) is shown, user.username
        assert 'href="/requests/"' in html


def test_the_previous_sign_in_is_kept_for_changes_since_the_last_visit(board_member):
    board_member.last_login = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    board_member.save(update_fields=["last_login"])
    client = Client()
    client.post("/login/", {"username": "bea", "password": PASSWORD})
    assert client.session["console_since"] == "2026-11-20T09:30:00+00:00"
    board_member.refresh_from_db()
    assert board_member.last_login > datetime(2026, 11, 20, 9, 30, tzinfo=UTC)

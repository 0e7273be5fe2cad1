"""The middleware through Django's test client: cookies, headers, redirects, rollbacks."""

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from tests.webapp.experiments.helpers import DUMMY_URLS, HTML, make_experiment, visitor_between
from webapp.experiments import services
from webapp.experiments.middleware import VARIANT_COOKIE, VISITOR_COOKIE
from webapp.experiments.models import Assignment, Experiment, Source, Status

pytestmark = pytest.mark.urls(DUMMY_URLS)


def api(client: Client, **headers):
    response = client.get("/api/echo", **headers)
    assert response.status_code == 200
    return response, response.json()


def page(client: Client, path: str = "/page", **headers):
    return client.get(path, HTTP_ACCEPT=HTML, **headers)


def counted(variant: str, source: str) -> float:
    labels = {"experiment": "exp-test", "variant": variant, "source": source}
    return REGISTRY.get_sample_value("sentiment_experiment_assignments_total", labels) or 0.0


def test_new_visitor_gets_both_cookies_and_a_recorded_assignment(experiment, client):
    response, seen = api(client)
    visitor = response.cookies[VISITOR_COOKIE]
    assert visitor["httponly"] is True
    assert visitor["samesite"] == "Lax"
    assert not visitor["secure"]
    assert int(visitor["max-age"]) >= 180 * 24 * 3600
    variant = response.cookies[VARIANT_COOKIE]
    assert variant.value in {"A", "B"}
    assert not variant["httponly"]  # the mesh reads it
    assert variant["samesite"] == "Lax"
    assert "Cookie" in response["Vary"]

    row = Assignment.objects.get()
    assert seen == {
        "experiment": "exp-test",
        "variant": row.variant,
        "visitor_id": visitor.value,
        "phase": 1,
        "source": "hash",
    }
    assert row.variant == variant.value
    assert row.variant == services.hashed_variant(experiment, visitor.value)


def test_cookies_are_secure_when_configured(experiment, client, settings):
    settings.VISITOR_COOKIE_SECURE = True
    response, _ = api(client)
    assert response.cookies[VISITOR_COOKIE]["secure"] is True
    assert response.cookies[VARIANT_COOKIE]["secure"] is True


def test_visitor_keeps_variant_across_requests_and_a_weight_change(experiment, client):
    _, first = api(client)
    for _ in range(3):
        response, seen = api(client)
        assert seen == first
        # Nothing to change: the cookies the browser holds are already right.
        assert VISITOR_COOKIE not in response.cookies
        assert VARIANT_COOKIE not in response.cookies
    services.set_weight(experiment, 1.0 if first["variant"] == "A" else 0.0, actor="t")
    _, seen = api(client)
    assert seen == first
    assert Assignment.objects.count() == 1


def test_weight_change_moves_only_new_visitors(experiment, client):
    old = visitor_between(experiment, 0.1, 0.6, prefix="old")
    new = visitor_between(experiment, 0.1, 0.6, prefix="new")
    assert api(Client(), HTTP_X_USER_ID=old)[1]["variant"] == "A"
    services.set_weight(experiment, 0.6, actor="t")
    assert api(Client(), HTTP_X_USER_ID=old)[1]["variant"] == "A"
    assert api(Client(), HTTP_X_USER_ID=new)[1]["variant"] == "B"


def test_hundreds_of_visitors_through_the_middleware(experiment):
    experiment.weight = 0.3
    experiment.save()
    client = Client()
    seen_by_visitor = {}
    for n in range(300):
        client.cookies.clear()
        visitor = f"mw-{n}"
        # Half arrive with our visitor cookie (returning browsers), half as API clients.
        if n % 2:
            client.cookies[VISITOR_COOKIE] = visitor
            response, seen = api(client)
        else:
            response, seen = api(client, HTTP_X_USER_ID=visitor)
        assert seen["visitor_id"] == visitor
        assert response.cookies[VARIANT_COOKIE].value == seen["variant"]
        seen_by_visitor[visitor] = seen["variant"]
    stored = dict(Assignment.objects.values_list("visitor_id", "variant"))
    assert stored == seen_by_visitor
    # Each visitor got exactly the variant of the hash (whose split over thousands of
    # visitors test_services checks), and both variants occur.
    assert all(v == services.hashed_variant(experiment, k) for k, v in stored.items())
    assert set(stored.values()) == {"A", "B"}


def test_x_user_id_identifies_api_clients(experiment):
    _, seen = api(Client(), HTTP_X_USER_ID="client.id_42-x")
    assert seen["visitor_id"] == "client.id_42-x"
    _, again = api(Client(), HTTP_X_USER_ID="client.id_42-x")
    assert again == seen
    assert Assignment.objects.filter(visitor_id="client.id_42-x").count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        "x" * 65,
        "",
        "has space",
        "semi;colon",
        "abc\r\nSet-Cookie: evil=1",
        "abc\nX-Injected: 1",
        'quote"d',
        "ünïcode",
        "../../etc",
    ],
)
def test_invalid_x_user_id_is_ignored(experiment, bad):
    response, seen = api(Client(), HTTP_X_USER_ID=bad)
    assert seen["visitor_id"] != bad
    assert len(seen["visitor_id"]) >= 16  # a fresh random id instead
    assert response.cookies[VISITOR_COOKIE].value == seen["visitor_id"]
    raw = "\n".join(f"{k}: {v}" for k, v in response.items()) + response.cookies.output()
    assert "evil" not in raw and "Injected" not in raw
    assert not Assignment.objects.filter(visitor_id=bad).exists()
    assert Assignment.objects.get().visitor_id == seen["visitor_id"]


def test_invalid_visitor_cookie_is_replaced(experiment, client):
    client.cookies[VISITOR_COOKIE] = "not valid!"
    response, seen = api(client)
    assert seen["visitor_id"] != "not valid!"
    assert response.cookies[VISITOR_COOKIE].value == seen["visitor_id"]


@pytest.mark.parametrize("path", ["/health/live", "/metrics", "/static/missing.css"])
def test_probes_scrapes_and_static_files_are_left_alone(
    experiment, client, path, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get(path)
    assert response.json() == {"experiment": None}
    assert not response.cookies


def test_admin_is_left_alone(experiment, client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert VISITOR_COOKIE not in response.cookies
    assert VARIANT_COOKIE not in response.cookies
    assert not Assignment.objects.exists()


# --- client-chosen variants ---------------------------------------------------------------


@pytest.mark.parametrize("via", ["header", "cookie"])
def test_client_chosen_variant_is_kept_and_recorded_as_client(experiment, via):
    client = Client()
    visitor = visitor_between(experiment, 0.5, 1.0)  # the hash would say A
    if via == "header":
        _, seen = api(client, HTTP_X_USER_ID=visitor, HTTP_X_USER_EXPERIMENT="B")
    else:
        client.cookies[VARIANT_COOKIE] = "B"
        _, seen = api(client, HTTP_X_USER_ID=visitor)
    assert (seen["variant"], seen["source"]) == ("B", "client")
    assert client.cookies[VARIANT_COOKIE].value == "B"  # set by this response, or kept
    row = Assignment.objects.get(visitor_id=visitor)
    assert (row.variant, row.source) == ("B", Source.CLIENT)
    # With the cookies we set, the browser keeps its choice.
    _, again = api(client)
    assert (again["variant"], again["source"]) == ("B", "client")


@pytest.mark.parametrize("value", ["b", "C", "AB", "B ", "", "A\r\nX: 1"])
def test_invalid_variant_choices_are_ignored(experiment, value):
    client = Client()
    visitor = visitor_between(experiment, 0.5, 1.0)
    client.cookies[VARIANT_COOKIE] = value
    _, seen = api(client, HTTP_X_USER_ID=visitor, HTTP_X_USER_EXPERIMENT=value)
    assert (seen["variant"], seen["source"]) == ("A", "hash")


def test_our_own_cookie_is_not_a_client_choice_in_a_new_phase(experiment):
    """Returning browsers carry the variant cookie we set; a new phase re-draws them anyway."""
    experiment.weight = 0.5
    experiment.save()
    clients = []
    for n in range(40):
        client = Client()
        api(client, HTTP_X_USER_ID=f"phase-{n}")
        clients.append(client)
    experiment = services.start_new_phase(experiment, actor="t")
    for n, client in enumerate(clients):
        _, seen = api(client)
        assert seen["phase"] == 2
        assert seen["source"] == "hash"
        assert seen["variant"] == services.hashed_variant(experiment, f"phase-{n}")
    assert not Assignment.objects.filter(source=Source.CLIENT).exists()


# --- routing: redirect once so the page comes from the right app ---------------------------


def test_new_b_visitor_on_v1_is_redirected_once(experiment, settings):
    settings.APP_VARIANT = "v1"
    client = Client()
    visitor = visitor_between(experiment, 0.0, 0.1)
    response = page(client, "/page?x=1", HTTP_X_USER_ID=visitor)
    assert response.status_code == 302
    assert response["Location"] == "/page?x=1"
    assert response.cookies[VARIANT_COOKIE].value == "B"
    assert "no-store" in response["Cache-Control"]
    # Without a mesh the next request reaches v1 again: it carries B now, so no loop.
    again = page(client, "/page?x=1")
    assert again.status_code == 200
    assert b"<p>B</p>" in again.content


def test_redirect_follows_in_a_browser_like_client(experiment, settings):
    settings.APP_VARIANT = "v1"
    experiment.weight = 1.0
    experiment.save()
    response = page(Client(), "/", follow=True)
    assert response.status_code == 200
    assert len(response.redirect_chain) == 1


@pytest.mark.parametrize(
    "case",
    ["v2 app", "api", "post", "json accept", "header chosen", "assigned A", "returning B"],
)
def test_no_redirect_when_it_would_not_help(experiment, settings, case):
    settings.APP_VARIANT = "v2" if case == "v2 app" else "v1"
    client = Client()
    visitor = visitor_between(experiment, 0.0, 0.1)
    headers = {"HTTP_X_USER_ID": visitor}
    if case == "api":
        response = client.get("/api/echo", HTTP_ACCEPT=HTML, **headers)
    elif case == "post":
        response = client.post("/page", HTTP_ACCEPT=HTML, **headers)
    elif case == "json accept":
        response = client.get("/page", HTTP_ACCEPT="application/json", **headers)
    elif case == "header chosen":
        response = page(client, HTTP_X_USER_EXPERIMENT="B", **headers)
    elif case == "assigned A":
        response = page(client, HTTP_X_USER_ID=visitor_between(experiment, 0.1, 1.0))
    else:
        services.assign(visitor, experiment=experiment)
        client.cookies[VISITOR_COOKIE] = visitor
        client.cookies[VARIANT_COOKIE] = "B"
        response = page(client)
    assert response.status_code == 200


def test_returning_b_visitor_without_variant_cookie_is_sent_to_v2(experiment, settings):
    settings.APP_VARIANT = "v1"
    visitor = visitor_between(experiment, 0.0, 0.1)
    services.assign(visitor, experiment=experiment)
    client = Client()
    client.cookies[VISITOR_COOKIE] = visitor
    assert page(client).status_code == 302
    assert page(client).status_code == 200


# --- rollback, promotion, pause: from the next request on --------------------------------


def b_visitor(experiment: Experiment) -> Client:
    client = Client()
    _, seen = api(client, HTTP_X_USER_ID=visitor_between(experiment, 0.0, 0.1))
    assert seen["variant"] == "B"
    return client


def test_rollback_gives_everyone_a_from_the_next_request(experiment, settings):
    settings.APP_VARIANT = "v2"  # the mesh sends B visitors to v2
    client = b_visitor(experiment)
    stranger = Client()
    stranger.cookies[VARIANT_COOKIE] = "B"  # a client-chosen B
    before = counted("A", "rollback")

    services.rollback_experiment(experiment, actor="t", reason="test")
    response, seen = api(client)
    assert (seen["variant"], seen["source"]) == ("A", "rollback")
    assert response.cookies[VARIANT_COOKIE].value == "A"  # v2 sends them back to v1
    response, seen = api(stranger, HTTP_X_USER_EXPERIMENT="B")
    assert seen["variant"] == "A"
    assert response.cookies[VARIANT_COOKIE].value == "A"
    assert counted("A", "rollback") == before + 2  # two visitors moved by the rollback


def test_rollback_redirects_b_pages_on_v2_back_to_v1_once(experiment, settings):
    settings.APP_VARIANT = "v2"
    client = b_visitor(experiment)
    services.rollback_experiment(experiment, actor="t")
    response = page(client)
    assert response.status_code == 302
    assert response.cookies[VARIANT_COOKIE].value == "A"
    # Without a mesh the request comes back to v2, now carrying A: served, no loop.
    response = page(client)
    assert response.status_code == 200
    assert b"<p>A</p>" in response.content


def test_promotion_gives_everyone_b_from_the_next_request(experiment, settings):
    settings.APP_VARIANT = "v1"
    client = Client()
    _, seen = api(client, HTTP_X_USER_ID=visitor_between(experiment, 0.1, 1.0))
    assert seen["variant"] == "A"
    services.promote_experiment(experiment, actor="t")
    response, seen = api(client, HTTP_X_USER_EXPERIMENT="A")
    assert (seen["variant"], seen["source"]) == ("B", "promote")
    assert response.cookies[VARIANT_COOKIE].value == "B"
    # A known visitor's page on v1 goes to v2 once.
    client.cookies[VARIANT_COOKIE] = "A"
    assert page(client).status_code == 302
    assert page(client).status_code == 200
    # A visitor never seen before is not bounced: the cookie routes their next request.
    response = page(Client())
    assert response.status_code == 200
    assert response.cookies[VARIANT_COOKIE].value == "B"


@pytest.mark.parametrize("status", [Status.PAUSED, Status.DRAFT])
def test_a_paused_experiment_routes_everyone_to_a(experiment, status):
    client = b_visitor(experiment)
    Experiment.objects.filter(pk=experiment.pk).update(status=status)
    response, seen = api(client)
    assert seen == {"experiment": None}
    assert response.cookies[VARIANT_COOKIE].value == "A"
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.RUNNING)
    response, seen = api(client)
    assert seen["variant"] == "B"  # resuming gives the visitor their variant back


def test_without_a_steering_experiment_nothing_is_assigned(db, client):
    Experiment.objects.update(steers_routing=False)
    make_experiment("not-steering", weight=1.0)
    client.cookies[VARIANT_COOKIE] = "B"
    response, seen = api(client)
    assert seen == {"experiment": None}
    assert VARIANT_COOKIE not in response.cookies
    assert VISITOR_COOKIE in response.cookies
    assert not Assignment.objects.exists()


def test_assignments_are_counted_by_source(experiment):
    hash_b, client_a = counted("B", "hash"), counted("A", "client")
    api(Client(), HTTP_X_USER_ID=visitor_between(experiment, 0.0, 0.1))
    api(Client(), HTTP_X_USER_EXPERIMENT="A")
    assert counted("B", "hash") == hash_b + 1
    assert counted("A", "client") == client_a + 1

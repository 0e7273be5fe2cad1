"""The middleware through Django's test client: cookies, headers, redirects, rollbacks."""

import uuid
from urllib.parse import urljoin, urlsplit

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


def route_like_the_mesh(settings, client: Client, **headers) -> None:
    """Serve the next request from the app the mesh would pick: B (header, else the variant
    cookie) goes to v2, everything else to v1."""
    cookie = client.cookies.get(VARIANT_COOKIE)
    chosen = headers.get("HTTP_X_USER_EXPERIMENT") or (cookie.value if cookie else None)
    settings.APP_VARIANT = "v2" if chosen == "B" else "v1"


def assigned(visitor: str) -> str:
    """The variant an API client naming itself ``visitor`` is given (the cookie it gets)."""
    return Client().get("/api/echo", HTTP_X_USER_ID=visitor).cookies[VARIANT_COOKIE].value


def counted(variant: str, source: str) -> float:
    labels = {"experiment": "exp-test", "variant": variant, "source": source}
    return REGISTRY.get_sample_value("sentiment_experiment_assignments_total", labels) or 0.0


def test_new_visitor_gets_both_cookies_and_a_recorded_assignment(experiment, client, settings):
    response = page(client)  # a 302 when a B visitor is sent round to v2
    assert response.status_code in {200, 302}
    visitor = response.cookies[VISITOR_COOKIE]
    assert visitor["httponly"] is True
    assert visitor["samesite"] == "Lax"
    assert not visitor["secure"]
    assert int(visitor["max-age"]) >= 180 * 24 * 3600
    variant = response.cookies[VARIANT_COOKIE]
    assert variant.value in {"A", "B"}
    assert variant["httponly"] is True  # the mesh reads it from the request, no script does
    assert variant["samesite"] == "Lax"
    assert "Cookie" in response["Vary"]

    # The browser's next call, with the cookies it keeps, reaches the app of its variant.
    route_like_the_mesh(settings, client)
    _, seen = api(client)
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
    response = page(client)
    assert response.cookies[VISITOR_COOKIE]["secure"] is True
    assert response.cookies[VARIANT_COOKIE]["secure"] is True


def test_visitor_keeps_variant_across_requests_and_a_weight_change(experiment, client, settings):
    page(client)
    route_like_the_mesh(settings, client)
    _, first = api(client)
    assert first["variant"] in {"A", "B"}
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
    assert assigned(old) == "A"
    services.set_weight(experiment, 0.6, actor="t")
    assert assigned(old) == "A"
    assert assigned(new) == "B"
    stored = dict(Assignment.objects.values_list("visitor_id", "variant"))
    assert stored == {old: "A", new: "B"}


def test_hundreds_of_visitors_through_the_middleware(experiment, settings):
    settings.APP_VARIANT = "v1"  # where the mesh sends a request that carries no B
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
        variant = response.cookies[VARIANT_COOKIE].value
        if variant == "A":
            assert (seen["visitor_id"], seen["variant"]) == (visitor, "A")
        else:
            # Served by v1 before the cookie routes it to v2: not evidence about B.
            assert seen == {"experiment": None}
        seen_by_visitor[visitor] = variant
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
    def raw(response) -> str:
        return "\n".join(f"{k}: {v}" for k, v in response.items()) + response.cookies.output()

    # An API client naming no valid id is a client without an id: it takes no part.
    response, seen = api(Client(), HTTP_X_USER_ID=bad)
    assert seen == {"experiment": None}
    assert not response.cookies
    assert "evil" not in raw(response) and "Injected" not in raw(response)
    assert not Assignment.objects.exists()

    # A browser sending it gets a fresh random id instead.
    response = page(Client(), HTTP_X_USER_ID=bad)
    visitor = response.cookies[VISITOR_COOKIE].value
    assert visitor != bad
    assert len(visitor) >= 16
    assert "evil" not in raw(response) and "Injected" not in raw(response)
    assert not Assignment.objects.filter(visitor_id=bad).exists()
    assert Assignment.objects.get().visitor_id == visitor


def test_invalid_visitor_cookie_is_replaced(experiment, client, settings):
    client.cookies[VISITOR_COOKIE] = "not valid!"
    response = page(client)
    visitor = response.cookies[VISITOR_COOKIE].value
    assert visitor != "not valid!"
    route_like_the_mesh(settings, client)
    _, seen = api(client)
    assert seen["visitor_id"] == visitor
    assert Assignment.objects.get().visitor_id == visitor


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
def test_client_chosen_variant_is_kept_and_recorded_as_client(experiment, via, settings):
    settings.APP_VARIANT = "v2"  # the mesh sends a chosen B, by header or cookie, to v2
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


def test_our_own_cookie_is_not_a_client_choice_in_a_new_phase(experiment, settings):
    """Returning browsers carry the variant cookie we set; a new phase re-draws them anyway."""
    experiment.weight = 0.5
    experiment.save()
    clients = []
    for n in range(40):
        client = Client()
        api(client, HTTP_X_USER_ID=f"phase-{n}")
        clients.append(client)
    experiment = services.start_new_phase(experiment, actor="t")
    moved = 0
    for n, client in enumerate(clients):
        old = client.cookies[VARIANT_COOKIE].value
        new = services.hashed_variant(experiment, f"phase-{n}")
        route_like_the_mesh(settings, client)
        response, seen = api(client)
        if new == old:
            assert VARIANT_COOKIE not in response.cookies
        else:
            # The old cookie routed this request to the other app: the new one routes the next.
            moved += 1
            assert seen == {"experiment": None}
            assert response.cookies[VARIANT_COOKIE].value == new
            route_like_the_mesh(settings, client)
            _, seen = api(client)
        assert seen["phase"] == 2
        assert seen["source"] == "hash"
        assert seen["variant"] == new
    assert moved > 0  # with a 50% split some of 40 visitors change variant
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
    # Without a mesh the next request reaches v1 again: it carries B now, so no loop, and
    # v1 does not count it as B.
    again = page(client, "/page?x=1")
    assert again.status_code == 200
    assert b"<p>-</p>" in again.content
    # Through the mesh it reaches v2, which does.
    route_like_the_mesh(settings, client)
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
    """An API client the experiment has put in B, holding the cookies it was given."""
    client = Client()
    response, _ = api(client, HTTP_X_USER_ID=visitor_between(experiment, 0.0, 0.1))
    assert response.cookies[VARIANT_COOKIE].value == "B"
    return client


def test_rollback_gives_everyone_a_from_the_next_request(experiment, settings):
    settings.APP_VARIANT = "v2"  # the mesh sends B visitors to v2
    client = b_visitor(experiment)
    stranger = Client()
    stranger.cookies[VARIANT_COOKIE] = "B"  # a client-chosen B
    before = counted("A", "rollback")

    services.rollback_experiment(experiment, actor="t", reason="test")
    response, seen = api(client)
    assert seen == {"experiment": None}  # served by v2 while A: not counted as either
    assert response.cookies[VARIANT_COOKIE].value == "A"  # v2 sends them back to v1
    route_like_the_mesh(settings, client)
    response, seen = api(client)
    assert (seen["variant"], seen["source"]) == ("A", "rollback")
    assert VARIANT_COOKIE not in response.cookies
    route_like_the_mesh(settings, stranger, HTTP_X_USER_EXPERIMENT="B")
    response, seen = api(stranger, HTTP_X_USER_EXPERIMENT="B")
    assert seen == {"experiment": None}
    assert response.cookies[VARIANT_COOKIE].value == "A"
    assert counted("A", "rollback") == before + 2  # two visitors moved by the rollback


def test_rollback_redirects_b_pages_on_v2_back_to_v1_once(experiment, settings):
    settings.APP_VARIANT = "v2"
    client = b_visitor(experiment)
    services.rollback_experiment(experiment, actor="t")
    response = page(client)
    assert response.status_code == 302
    assert response.cookies[VARIANT_COOKIE].value == "A"
    # Without a mesh the request comes back to v2, now carrying A: served, no loop, and
    # not counted as A by v2.
    response = page(client)
    assert response.status_code == 200
    assert b"<p>-</p>" in response.content
    route_like_the_mesh(settings, client)
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
    assert seen == {"experiment": None}  # B now, but served by v1
    assert response.cookies[VARIANT_COOKIE].value == "B"
    route_like_the_mesh(settings, client)
    _, seen = api(client)
    assert (seen["variant"], seen["source"]) == ("B", "promote")
    # A known visitor's page on v1 goes to v2 once.
    settings.APP_VARIANT = "v1"
    client.cookies[VARIANT_COOKIE] = "A"
    assert page(client).status_code == 302
    assert page(client).status_code == 200
    # A visitor never seen before is not bounced: the cookie routes their next request.
    response = page(Client())
    assert response.status_code == 200
    assert response.cookies[VARIANT_COOKIE].value == "B"


@pytest.mark.parametrize("status", [Status.PAUSED, Status.DRAFT])
def test_a_paused_experiment_routes_everyone_to_a(experiment, status, settings):
    client = b_visitor(experiment)
    Experiment.objects.filter(pk=experiment.pk).update(status=status)
    route_like_the_mesh(settings, client)
    response, seen = api(client)
    assert seen == {"experiment": None}
    assert response.cookies[VARIANT_COOKIE].value == "A"
    Experiment.objects.filter(pk=experiment.pk).update(status=Status.RUNNING)
    route_like_the_mesh(settings, client)
    response, seen = api(client)
    assert response.cookies[VARIANT_COOKIE].value == "B"  # resuming gives it back
    route_like_the_mesh(settings, client)
    _, seen = api(client)
    assert seen["variant"] == "B"


def test_without_a_steering_experiment_nothing_is_assigned(db, client):
    Experiment.objects.update(steers_routing=False)
    make_experiment("not-steering", weight=1.0)
    client.cookies[VARIANT_COOKIE] = "B"
    response = page(client)
    assert response.status_code == 200
    assert b"<p>-</p>" in response.content
    assert VARIANT_COOKIE not in response.cookies
    assert VISITOR_COOKIE in response.cookies
    _, seen = api(client)
    assert seen == {"experiment": None}
    assert not Assignment.objects.exists()


def test_assignments_are_counted_by_source(experiment):
    hash_b, client_a = counted("B", "hash"), counted("A", "client")
    api(Client(), HTTP_X_USER_ID=visitor_between(experiment, 0.0, 0.1))
    api(Client(), HTTP_X_USER_EXPERIMENT="A")
    assert counted("B", "hash") == hash_b + 1
    assert counted("A", "client") == client_a + 1


# --- open redirects, attribution, cookieless clients ------------------------------------


# The server decodes the path: /%2Fevil.example/ arrives as //evil.example/, as a request
# for //evil.example/ does (the test client would read that one as a host).
@pytest.mark.parametrize(
    "path", ["/%2Fevil.example/", "/%2Fevil.example/page?x=1", "/%2F%2Fevil.example"]
)
def test_the_redirect_never_leaves_the_site(experiment, settings, path):
    settings.APP_VARIANT = "v1"
    client = Client()
    response = page(client, path, HTTP_X_USER_ID=visitor_between(experiment, 0.0, 0.1))
    assert response.status_code == 302
    location = response["Location"]
    assert not location.startswith("//")
    target = urlsplit(urljoin("http://testserver/page", location))
    assert target.netloc == "testserver"
    assert target.path.startswith("/%2F")


@pytest.mark.parametrize(("variant", "app"), [("B", "v1"), ("A", "v2")])
def test_a_request_served_by_the_other_app_is_not_attributed(experiment, settings, variant, app):
    """An API call is never redirected: until the cookie routes it, the other version's app
    answers it, and that answer must not count for the visitor's variant."""
    settings.APP_VARIANT = app
    low, high = (0.0, 0.1) if variant == "B" else (0.1, 1.0)
    client = Client()
    response, seen = api(client, HTTP_X_USER_ID=visitor_between(experiment, low, high))
    assert seen == {"experiment": None}
    assert client.get("/api/stored-as").json() == {
        "experiment": "",
        "variant": "",
        "visitor_id": "",
    }
    # The visitor is assigned all the same, and the cookie routes the next request right.
    assert response.cookies[VARIANT_COOKIE].value == variant
    assert Assignment.objects.get().variant == variant
    route_like_the_mesh(settings, client)
    assert app != settings.APP_VARIANT
    _, seen = api(client)
    assert seen["variant"] == variant


def test_predictions_during_rollback_or_promotion_are_stored_outside_the_experiment(
    experiment, settings
):
    settings.APP_VARIANT = "v1"
    client = Client()
    visitor = visitor_between(experiment, 0.1, 1.0)
    assert client.get("/api/stored-as", HTTP_X_USER_ID=visitor).json() == {
        "experiment": "exp-test",
        "variant": "A",
        "visitor_id": visitor,
    }
    blank = {"experiment": "", "variant": "", "visitor_id": ""}
    services.rollback_experiment(experiment, actor="t")
    _, seen = api(client)
    assert (seen["variant"], seen["source"]) == ("A", "rollback")
    assert client.get("/api/stored-as").json() == blank

    promoted = make_experiment("exp-promoted", steers_routing=False)
    Experiment.objects.filter(pk=experiment.pk).update(steers_routing=False)
    Experiment.objects.filter(pk=promoted.pk).update(steers_routing=True)
    services.promote_experiment(promoted, actor="t")
    settings.APP_VARIANT = "v2"
    _, seen = api(client)
    assert (seen["experiment"], seen["variant"], seen["source"]) == (
        "exp-promoted",
        "B",
        "promote",
    )
    assert client.get("/api/stored-as").json() == blank


def cookieless(client: Client, kind: str):
    if kind == "api":
        return client.get("/api/echo")
    if kind == "api asking for html":
        return client.get("/api/echo", HTTP_ACCEPT=HTML)
    if kind == "post":
        return client.post("/page", HTTP_ACCEPT=HTML)
    return client.get("/page", HTTP_ACCEPT="application/json")


@pytest.mark.parametrize("kind", ["api", "api asking for html", "post", "json accept"])
def test_clients_without_cookie_or_id_take_no_part(
    experiment, kind, settings, django_assert_num_queries
):
    settings.APP_VARIANT = "v1"
    experiment.weight = 0.5
    experiment.save()
    for _ in range(3):
        client = Client()
        with django_assert_num_queries(0):
            response = cookieless(client, kind)
        assert response.status_code == 200
        assert not response.cookies
        if kind.startswith("api"):
            assert response.json() == {"experiment": None}
        else:
            assert b"<p>-</p>" in response.content
    assert not Assignment.objects.exists()


def test_a_client_keeping_cookies_after_a_page_visit_takes_part(experiment, settings):
    settings.APP_VARIANT = "v1"
    client = Client()
    api(client)
    assert not client.cookies
    page(client)
    visitor = client.cookies[VISITOR_COOKIE].value
    route_like_the_mesh(settings, client)
    for _ in range(3):
        _, seen = api(client)
        assert seen["visitor_id"] == visitor
    assert Assignment.objects.get().visitor_id == visitor


def test_batch_job_polling_is_left_alone(experiment, client, django_assert_num_queries):
    client.cookies[VISITOR_COOKIE] = "poller-1"
    with django_assert_num_queries(0):
        response = client.get(f"/api/batch/{uuid.uuid4()}", HTTP_X_USER_ID="poller-1")
    assert response.json() == {"experiment": None}
    assert not response.cookies
    assert not Assignment.objects.exists()

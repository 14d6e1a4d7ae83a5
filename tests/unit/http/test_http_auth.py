"""Each auth kind against a server that checks it; OAuth2 token caching, single flight, refresh."""

import asyncio
import base64
import logging

import pytest
from aiohttp import web

from npo_integration.errors import SecretError
from npo_integration.http.auth import AUTHENTICATORS
from npo_integration.http.errors import NpoRequestError, NpoResponseError, NpoUnavailableError

SECRET = "s3cr3t-value-do-not-leak"


def checking(predicate):
    """A handler answering 200 when ``predicate(request)`` holds, else 401."""

    async def handler(request: web.Request) -> web.Response:
        if predicate(request):
            return web.json_response({"data": [{"id": 1}]})
        return web.json_response({"message": "unauthorised"}, status=401)

    return handler


def test_every_config_kind_has_an_authenticator() -> None:
    assert set(AUTHENTICATORS) == {
        "none",
        "bearer",
        "api_key_header",
        "api_key_query",
        "basic",
        "oauth2_client_credentials",
        "oauth2_authorization_code",
    }


@pytest.mark.parametrize(
    ("auth", "predicate"),
    [
        ({"kind": "none"}, lambda r: "Authorization" not in r.headers),
        (
            {"kind": "bearer", "token": SECRET},
            lambda r: r.headers.get("Authorization") == f"Bearer {SECRET}",
        ),
        ({"kind": "api_key_header", "key": SECRET}, lambda r: r.headers.get("X-API-Key") == SECRET),
        (
            {"kind": "api_key_header", "header": "Api-Token", "key": SECRET},
            lambda r: r.headers.get("Api-Token") == SECRET,
        ),
        ({"kind": "api_key_query", "key": SECRET}, lambda r: r.query.getall("wstoken") == [SECRET]),
        (
            {"kind": "basic", "username": "svc", "password": SECRET},
            lambda r: (
                r.headers.get("Authorization")
                == "Basic " + base64.b64encode(f"svc:{SECRET}".encode()).decode()
            ),
        ),
    ],
    ids=["none", "bearer", "api_key_header", "api_key_header_named", "api_key_query", "basic"],
)
async def test_static_schemes_sign_requests(
    client, serve, config_factory, box, auth, predicate
) -> None:
    base = await serve(web.get("/courses", checking(predicate)))
    sealed = {key: box.seal(value) if value == SECRET else value for key, value in auth.items()}
    config = config_factory(base, auth=sealed)
    response = await client.request(config, "GET", "/courses", params={"x": "1"})
    assert response.status == 200
    assert SECRET not in response.url  # the public URL never carries a query-string key


async def test_unsealed_secret_is_refused(client, serve, config_factory) -> None:
    base = await serve(web.get("/courses", checking(lambda r: True)))
    config = config_factory(base, auth={"kind": "bearer", "token": SECRET})
    with pytest.raises(SecretError) as info:
        await client.request(config, "GET", "/courses")
    assert SECRET not in str(info.value)


class TokenServer:
    """An OAuth2 token endpoint and an API that accepts only tokens it issued and did not revoke."""

    def __init__(self, expires_in: int | None = 3600) -> None:
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.forms: list[dict[str, str]] = []
        self.api_calls = 0

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.forms.append(form)
        if form.get("client_secret") != SECRET:
            return web.json_response({"error": "invalid_client"}, status=401)
        await asyncio.sleep(0)  # let concurrent requests pile up behind the single flight
        token = f"tok-{len(self.issued) + 1}"
        self.issued.append(token)
        body: dict[str, object] = {"access_token": token, "token_type": "bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return web.json_response(body)

    async def api(self, request: web.Request) -> web.Response:
        self.api_calls += 1
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.issued or token in self.revoked:
            return web.json_response({"message": "token expired"}, status=401)
        return web.json_response({"token": token})

    def routes(self, token_path: str = "/oauth/token") -> list[web.RouteDef]:
        return [web.post(token_path, self.token), web.get("/api/items", self.api)]


@pytest.fixture
def oauth_config(config_factory, box):
    def make(base: str, **auth: object):
        settings = {
            "kind": "oauth2_client_credentials",
            "token_url": "/oauth/token",
            "client_id": "spotlight",
            "client_secret": box.seal(SECRET),
            "refresh_margin_seconds": 30,
        }
        settings.update(auth)
        return config_factory(base, auth=settings)

    return make


async def test_oauth_posts_client_credentials_form(client, serve, oauth_config) -> None:
    npo = TokenServer()
    base = await serve(*npo.routes())
    response = await client.request(oauth_config(base, scope="courses.read"), "GET", "/api/items")
    assert response.json == {"token": "tok-1"}
    assert npo.forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "spotlight",
            "client_secret": SECRET,
            "scope": "courses.read",
        }
    ]


async def test_oauth_concurrent_requests_share_one_token(client, serve, oauth_config) -> None:
    npo = TokenServer()
    base = await serve(*npo.routes())
    config = oauth_config(base)
    responses = await asyncio.gather(
        *(client.request(config, "GET", "/api/items") for _ in range(20))
    )
    assert {r.json["token"] for r in responses} == {"tok-1"}
    assert npo.issued == ["tok-1"]


async def test_oauth_refreshes_once_before_expiry(client, serve, oauth_config, clock) -> None:
    npo = TokenServer(expires_in=300)
    base = await serve(*npo.routes())
    config = oauth_config(base)
    await client.request(config, "GET", "/api/items")
    clock.advance(269)  # still inside expires_in - refresh_margin_seconds
    await client.request(config, "GET", "/api/items")
    assert npo.issued == ["tok-1"]
    clock.advance(2)
    responses = await asyncio.gather(
        *(client.request(config, "GET", "/api/items") for _ in range(5))
    )
    assert {r.json["token"] for r in responses} == {"tok-2"}
    assert npo.issued == ["tok-1", "tok-2"]


async def test_oauth_401_refreshes_and_retries_once(client, serve, oauth_config) -> None:
    npo = TokenServer(expires_in=None)
    base = await serve(*npo.routes())
    config = oauth_config(base)
    await client.request(config, "GET", "/api/items")
    npo.revoked.add("tok-1")
    responses = await asyncio.gather(
        *(client.request(config, "GET", "/api/items") for _ in range(10))
    )
    assert {r.json["token"] for r in responses} == {"tok-2"}
    assert npo.issued == ["tok-1", "tok-2"]


async def test_oauth_401_with_a_fresh_token_is_fatal_after_one_retry(
    client, serve, oauth_config
) -> None:
    npo = TokenServer()

    async def always_401(request: web.Request) -> web.Response:
        return web.json_response({"message": "nope"}, status=401)

    base = await serve(web.post("/oauth/token", npo.token), web.get("/api/items", always_401))
    with pytest.raises(NpoRequestError) as info:
        await client.request(oauth_config(base), "GET", "/api/items")
    assert info.value.status == 401
    assert npo.issued == ["tok-1", "tok-2"]


async def test_oauth_absolute_token_url_and_rejected_client(
    client, serve, oauth_config, box
) -> None:
    npo = TokenServer()
    base = await serve(*npo.routes("/identity/connect/token"))
    config = oauth_config(base, token_url=f"{base}/identity/connect/token")
    assert (await client.request(config, "GET", "/api/items")).json == {"token": "tok-1"}

    wrong = oauth_config(
        base, token_url="identity/connect/token", client_secret=box.seal("wrong-secret")
    )
    with pytest.raises(NpoRequestError) as info:
        await client.request(wrong, "GET", "/api/items")
    assert info.value.status == 401 and "/identity/connect/token" in str(info.value)


async def test_oauth_token_endpoint_failures_are_classified(client, serve, oauth_config) -> None:
    async def no_token(request: web.Request) -> web.Response:
        return web.json_response({"token_type": "bearer"})

    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503, text="maintenance")

    base = await serve(web.post("/no-token", no_token), web.post("/down", down))
    with pytest.raises(NpoResponseError, match="without an access_token"):
        await client.request(oauth_config(base, token_url="/no-token"), "GET", "/api/items")
    with pytest.raises(NpoUnavailableError, match="503"):
        await client.request(
            oauth_config(base, token_url="/down"), "GET", "/api/items", retry=False
        )


async def test_config_change_rebuilds_auth_only_when_auth_changes(
    client, serve, oauth_config, config_factory, box
) -> None:
    npo = TokenServer()
    base = await serve(*npo.routes())
    config = oauth_config(base)
    await client.request(config, "GET", "/api/items")
    renamed = config.model_copy(update={"display_name": "Renamed"})
    await client.request(renamed, "GET", "/api/items")
    assert npo.issued == ["tok-1"]  # unrelated edit keeps the cached token

    seen: list[str] = []

    async def bearer(request: web.Request) -> web.Response:
        seen.append(request.headers["Authorization"])
        return web.json_response({})

    base2 = await serve(web.get("/x", bearer))
    first = config_factory(base2, auth={"kind": "bearer", "token": box.seal("one")})
    second = config_factory(base2, auth={"kind": "bearer", "token": box.seal("two")})
    await client.request(first, "GET", "/x")
    await client.request(second, "GET", "/x")
    assert seen == ["Bearer one", "Bearer two"]


async def test_secrets_never_in_errors_reprs_or_logs(
    client, serve, config_factory, box, caplog
) -> None:
    caplog.set_level(logging.DEBUG)

    async def echo_401(request: web.Request) -> web.Response:  # a careless NPO echoing the key
        message = f"token {request.query.get('wstoken')} is not valid"
        return web.json_response({"message": message}, status=401)

    async def echo_500(request: web.Request) -> web.Response:
        return web.Response(status=500, text=f"boom {request.headers.get('Authorization')}")

    base = await serve(web.get("/moodle", echo_401), web.get("/canvas", echo_500))
    query_config = config_factory(base, auth={"kind": "api_key_query", "key": box.seal(SECRET)})
    with pytest.raises(NpoRequestError) as query_error:
        await client.request(
            query_config, "GET", "/moodle", params={"wsfunction": "core_course_get_courses"}
        )
    bearer_config = config_factory(base, auth={"kind": "bearer", "token": box.seal(SECRET)})
    with pytest.raises(NpoUnavailableError) as bearer_error:
        await client.request(bearer_config, "GET", "/canvas")

    authenticator = client._states.get(bearer_config).auth
    # the imitation NPO's own access log (aiohttp.access) shows the query it received; ours must not
    client_log = "\n".join(
        record.getMessage() for record in caplog.records if record.name != "aiohttp.access"
    )
    for text in (
        str(query_error.value),
        repr(query_error.value),
        query_error.value.reason,
        str(bearer_error.value),
        repr(bearer_error.value),
        repr(bearer_config),
        str(bearer_config),
        repr(authenticator),
        client_log,
    ):
        assert SECRET not in text
    assert "token *** is not valid" in str(query_error.value)
    assert "wsfunction=core_course_get_courses" in str(query_error.value)
    assert "retrying" in client_log  # the retry warnings were logged, without the secret

"""The REST and XML/SOAP connectors against real HTTP servers started in the test.

Every server is aiohttp on 127.0.0.1 with an ephemeral port, and records what it was
sent, so safety claims ("the key stays one path segment", "the value is escaped") are
checked on the wire rather than on the client's intentions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from lxml import etree

from kefu.unify.connector import SourceFailure
from kefu.unify.connectors.registry import open_client
from kefu.unify.connectors.rest import RestClient
from kefu.unify.connectors.xmlhttp import XmlHttpClient, XPathPaths

NS = "urn:kefu-demo:callcenter"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    raw_path: str
    match_info: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_headers: list[tuple[str, str]]
    peer: Any = None

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.raw_headers if key.lower() == name.lower()]


@dataclass
class Recorder:
    requests: list[Seen] = field(default_factory=list)

    async def record(self, request: web.Request) -> Seen:
        transport = request.transport
        seen = Seen(
            method=request.method,
            raw_path=request.raw_path,
            match_info=dict(request.match_info),
            query=dict(request.query),
            headers=dict(request.headers),
            body=await request.read(),
            raw_headers=[(key.decode(), value.decode()) for key, value in request.raw_headers],
            peer=transport.get_extra_info("peername") if transport else None,
        )
        self.requests.append(seen)
        return seen

    @property
    def last(self) -> Seen:
        return self.requests[-1]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Start aiohttp apps on 127.0.0.1:0; returns their base URL; stops them afterwards."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("/")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


# --------------------------------------------------------------------------- REST


def rest_app(recorder: Recorder) -> web.Application:
    customers = {"C-1": {"id": "C-1", "name": "Ann Lee", "address": {"city": "Lyon"}}}

    async def customer(request: web.Request) -> web.Response:
        seen = await recorder.record(request)
        found = customers.get(seen.match_info["key"])
        if found is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(found)

    async def boom(request: web.Request) -> web.Response:
        await recorder.record(request)
        return web.json_response({"error": "down"}, status=500)

    async def html(request: web.Request) -> web.Response:
        await recorder.record(request)
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async def big(request: web.Request) -> web.Response:
        await recorder.record(request)
        return web.Response(body=b"[" + b"1," * 600_000 + b"1]", content_type="application/json")

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        await recorder.record(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"[")
        for _ in range(100):
            await response.write(b"1," * 10_000)
        await response.write(b"1]")
        return response

    async def search(request: web.Request) -> web.Response:
        seen = await recorder.record(request)
        return web.json_response({"query": seen.query, "body": json.loads(seen.body)})

    async def slow(request: web.Request) -> web.Response:
        seen = await recorder.record(request)
        await asyncio.sleep(0.02)
        return web.json_response({"key": seen.match_info["key"]})

    app = web.Application()
    # [^/]+ rather than the default [^{}/]+, which would refuse a key with braces.
    app.router.add_get("/api/customers/{key:[^/]+}", customer)
    app.router.add_get("/api/boom", boom)
    app.router.add_get("/api/html", html)
    app.router.add_get("/api/big", big)
    app.router.add_get("/api/big-chunked", big_chunked)
    app.router.add_post("/api/search", search)
    app.router.add_get("/api/slow/{key}", slow)
    return app


@pytest.fixture
async def rest(
    serve: Callable[[web.Application], Awaitable[str]],
) -> AsyncIterator[tuple[RestClient, Recorder]]:
    recorder = Recorder()
    base_url = await serve(rest_app(recorder))
    client = RestClient({"base_url": base_url, "max_response_bytes": 1024 * 1024})
    yield client, recorder
    await client.close()


async def test_rest_profile_by_key(rest: tuple[RestClient, Recorder]) -> None:
    client, recorder = rest
    profile = client.prepare({"path": "/api/customers/{value}"})
    reply = await profile.run("C-1")
    assert reply == {"id": "C-1", "name": "Ann Lee", "address": {"city": "Lyon"}}
    assert client.paths.getter("address.city")(reply) == "Lyon"
    assert recorder.last.method == "GET"
    assert recorder.last.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    "key", ["a/b", "..", ".", "../../etc/passwd", "?x=1#", '{"$ne": null}', "C-1/../C-1", "%2F"]
)
async def test_rest_hostile_key_is_one_literal_segment(
    rest: tuple[RestClient, Recorder], key: str
) -> None:
    client, recorder = rest
    profile = client.prepare({"path": "/api/customers/{value}"})
    assert await profile.run(key) is None  # matches nothing: the server's 404
    seen = recorder.last
    assert seen.match_info == {"key": key}
    assert seen.raw_path.startswith("/api/customers/")
    assert "/" not in seen.raw_path.removeprefix("/api/customers/")
    assert seen.query == {}


async def test_rest_404_is_none_and_errors_fail(rest: tuple[RestClient, Recorder]) -> None:
    client, _ = rest
    assert await client.prepare({"path": "/api/customers/{value}"}).run("nobody") is None
    with pytest.raises(SourceFailure, match="HTTP 500"):
        await client.prepare({"path": "/api/boom"}).run("x")
    with pytest.raises(SourceFailure, match="not JSON"):
        await client.prepare({"path": "/api/html"}).run("x")
    with pytest.raises(SourceFailure, match="cap"):
        await client.prepare({"path": "/api/big"}).run("x")
    with pytest.raises(SourceFailure, match="cap"):
        await client.prepare({"path": "/api/big-chunked"}).run("x")


async def test_rest_params_and_json_templates(rest: tuple[RestClient, Recorder]) -> None:
    client, recorder = rest
    search = client.prepare(
        {
            "method": "post",
            "path": "/api/search",
            "params": {"email": "{value}", "scope": "all"},
            "json": {"query": {"email": "{value}", "note": "by {value}"}, "limit": 5, "x": None},
            "headers": {"X-Trace": "t1"},
        }
    )
    value = 'a"b&c=d}{@x.com'
    reply = await search.run(value)
    assert reply["query"] == {"email": value, "scope": "all"}
    assert reply["body"] == {
        "query": {"email": value, "note": f"by {value}"},
        "limit": 5,
        "x": None,
    }
    assert recorder.last.headers["Content-Type"] == "application/json"
    assert recorder.last.headers["X-Trace"] == "t1"


@pytest.mark.parametrize(
    "request_options",
    [
        {"path": "/x", "verb": "GET"},
        {"path": "x/{value}"},
        {"path": "//evil.example/{value}"},
        {"path": "/x?id={value}"},
        {"path": "/a/../{value}"},
        {"path": "/x/{key}"},
        {"method": "DELETE", "path": "/x"},
        {"path": "/x", "json": {"a": "{value}"}},
        {"path": "/x", "headers": {"X-A": "1\r\nX-B: 2"}},
    ],
)
def test_rest_bad_request_templates(request_options: dict[str, Any]) -> None:
    client = RestClient({"base_url": "http://127.0.0.1:1"})
    with pytest.raises(ValueError):
        client.prepare(request_options)


@pytest.mark.parametrize(
    "connection",
    [
        {"base_url": "ftp://example.org"},
        {"base_url": "file:///etc/passwd"},
        {"base_url": "http://example.org", "timeout": 3},
        {"base_url": "http://example.org", "max_response_bytes": 0},
        {"base_url": "http://example.org?x=1"},
        {},
    ],
)
def test_rest_bad_connections(connection: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RestClient(connection)


async def test_fifty_concurrent_runs_share_one_client(
    serve: Callable[[web.Application], Awaitable[str]],
) -> None:
    recorder = Recorder()
    base_url = await serve(rest_app(recorder))
    client = open_client("rest", {"base_url": base_url, "max_connections": 5})
    try:
        request = client.prepare({"path": "/api/slow/{value}"})
        keys = [f"K-{index}" for index in range(50)]
        replies = await asyncio.gather(*(request.run(key) for key in keys))
        assert replies == [{"key": key} for key in keys]
        assert len(recorder.requests) == 50
        # One pool: never more sockets than max_connections.
        assert len({seen.peer for seen in recorder.requests}) <= 5
    finally:
        await client.close()
    with pytest.raises(RuntimeError):
        await request.run("K-1")


# ---------------------------------------------------------------------------- XML

CALLS = f"""<?xml version="1.0" encoding="UTF-8"?>
<CallHistory xmlns="{NS}" customer="C-1">
  <!-- generated by the legacy system -->
  <Calls>
    <Call id="1" direction="in">
      <Agent>Bo</Agent>
      <Caller><Phone>+33 1 23</Phone><Name> Ann Lee </Name></Caller>
      <Tag>billing</Tag><Tag>urgent</Tag>
    </Call>
    <Call id="2" direction="out"><Agent>Cy</Agent></Call>
  </Calls>
</CallHistory>""".encode()

SOAP_REPLY = f"""<soap:Envelope xmlns:soap="{SOAP_NS}">
  <soap:Header/>
  <soap:Body>
    <GetCustomerResponse xmlns="{NS}">
      <Customer id="C-1"><Name>Ann Lee</Name><Tier>gold</Tier></Customer>
    </GetCustomerResponse>
  </soap:Body>
</soap:Envelope>""".encode()

SOAP_FAULT = f"""<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><soap:Fault>
  <faultcode>soap:Server</faultcode><faultstring>Customer store offline</faultstring>
</soap:Fault></soap:Body></soap:Envelope>""".encode()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""

XXE = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
XXE_LOWER = b'<!doctype r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
# UTF-16 hides "<!DOCTYPE" from a byte search: the parsed tree's docinfo must catch it.
XXE_UTF16 = '<?xml version="1.0" encoding="UTF-16"?>\n'.encode("utf-16") + (
    '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'.encode("utf-16-le")
)


def big_calls(count: int) -> bytes:
    calls = "".join(f'<Call id="{index}"><Agent>A{index}</Agent></Call>' for index in range(count))
    return f'<CallHistory xmlns="{NS}"><Calls>{calls}</Calls></CallHistory>'.encode()


def xml_app(recorder: Recorder) -> web.Application:
    def xml(body: bytes, status: int = 200, content_type: str = "application/xml") -> web.Response:
        return web.Response(body=body, status=status, content_type=content_type)

    async def calls(request: web.Request) -> web.Response:
        await recorder.record(request)
        return xml(CALLS)

    async def soap(request: web.Request) -> web.Response:
        seen = await recorder.record(request)
        if b"fault-please" in seen.body:
            return xml(SOAP_FAULT, status=500, content_type="text/xml")
        if b"fault-200" in seen.body:
            return xml(SOAP_FAULT, content_type="text/xml")
        return xml(SOAP_REPLY, content_type="text/xml")

    def fixed(body: bytes, status: int = 200) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            await recorder.record(request)
            return xml(body, status=status)

        return handler

    async def echo(request: web.Request) -> web.Response:
        await recorder.record(request)
        return xml(b"<ok/>")

    app = web.Application()
    app.router.add_route("*", "/calls", calls)
    app.router.add_post("/soap", soap)
    app.router.add_get("/bomb", fixed(BILLION_LAUGHS))
    app.router.add_get("/xxe", fixed(XXE))
    app.router.add_get("/xxe-lower", fixed(XXE_LOWER))
    app.router.add_get("/xxe-utf16", fixed(XXE_UTF16))
    app.router.add_get("/big", fixed(big_calls(3000)))
    app.router.add_get("/broken", fixed(b"<a><b></a>"))
    app.router.add_get("/down", fixed(b"<error>down</error>", status=503))
    app.router.add_post("/soap-down", fixed(b"<html>proxy error</html>", status=502))
    app.router.add_post("/echo", echo)
    return app


@pytest.fixture
async def xml_base(serve: Callable[[web.Application], Awaitable[str]]) -> tuple[str, Recorder]:
    recorder = Recorder()
    return await serve(xml_app(recorder)), recorder


@pytest.fixture
async def xml_client(xml_base: tuple[str, Recorder]) -> AsyncIterator[XmlHttpClient]:
    client = XmlHttpClient({"base_url": xml_base[0]})
    yield client
    await client.close()


async def test_xml_plain_reply_with_default_namespace_ignored(
    xml_client: XmlHttpClient, xml_base: tuple[str, Recorder]
) -> None:
    request = xml_client.prepare({"method": "GET", "path": "/calls", "params": {"c": "{value}"}})
    reply = await request.run("C-1")
    assert xml_base[1].last.query == {"c": "C-1"}
    paths = xml_client.paths
    assert paths.getter("@customer")(reply) == "C-1"
    calls = paths.selector("Calls/Call")(reply)
    assert [paths.getter("@id")(call) for call in calls] == ["1", "2"]
    first = calls[0]
    assert paths.getter("Agent")(first) == "Bo"
    assert paths.getter("Caller/Phone")(first) == "+33 1 23"
    assert paths.getter("Caller/Name")(first) == "Ann Lee"  # stripped
    assert paths.getter("Missing")(first) is None
    assert paths.getter("count(Tag)")(first) == 2
    assert paths.getter("Tag[2]/text()")(first) == "urgent"
    assert paths.getter("@direction = 'in'")(first) is True
    assert paths.selector(None)(reply) == [reply]
    assert paths.selector(None)(None) == []
    assert paths.fields(first) == {
        "@id": "1",
        "@direction": "in",
        "Agent": "Bo",
        "Caller": {"Phone": "+33 1 23", "Name": "Ann Lee"},
        "Tag": ["billing", "urgent"],
    }
    assert [paths.head(p) for p in ("Agent/Name", "@id", "c:Agent", "Caller/Phone")] == [
        "Agent",
        "@id",
        "Agent",
        "Caller",
    ]


async def test_xml_namespaced_paths_with_a_prefix_map(xml_base: tuple[str, Recorder]) -> None:
    client = XmlHttpClient(
        {"base_url": xml_base[0], "ignore_namespaces": False, "namespaces": {"c": NS}}
    )
    try:
        reply = await client.prepare({"method": "GET", "path": "/calls"}).run("C-1")
        paths = client.paths
        calls = paths.selector("c:Calls/c:Call")(reply)
        assert len(calls) == 2
        assert paths.getter("c:Agent")(calls[1]) == "Cy"
        assert paths.getter("@id")(calls[1]) == "2"  # unprefixed attributes have no namespace
        assert paths.getter("c:Caller/c:Phone")(calls[0]) == "+33 1 23"
        # Without the prefix, a name in the default namespace matches nothing.
        assert paths.getter("Agent")(calls[1]) is None
        assert paths.fields(calls[1]) == {"@id": "2", "@direction": "out", "Agent": "Cy"}
    finally:
        await client.close()


async def test_soap_reply_is_the_body_child(
    xml_client: XmlHttpClient, xml_base: tuple[str, Recorder]
) -> None:
    request = xml_client.prepare(
        {
            "path": "/soap",
            "soap": True,
            "soap_action": "urn:kefu-demo:GetCustomer",
            "body": (
                f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>'
                f'<GetCustomer xmlns="{NS}"><Key>{{value}}</Key></GetCustomer>'
                "</soap:Body></soap:Envelope>"
            ),
        }
    )
    reply = await request.run("C-1")
    assert etree.QName(reply).localname == "GetCustomerResponse"
    paths = xml_client.paths
    customer = paths.selector("Customer")(reply)[0]
    assert paths.fields(customer) == {"@id": "C-1", "Name": "Ann Lee", "Tier": "gold"}
    seen = xml_base[1].last
    assert seen.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert seen.headers["SOAPAction"] == '"urn:kefu-demo:GetCustomer"'
    key = etree.fromstring(seen.body).find(f".//{{{NS}}}Key")
    assert key is not None and key.text == "C-1"


async def test_soap_fault_is_a_failure(xml_client: XmlHttpClient) -> None:
    body = f'<e:Envelope xmlns:e="{SOAP_NS}"><e:Body><Get>{{value}}</Get></e:Body></e:Envelope>'
    request = xml_client.prepare({"path": "/soap", "soap": True, "body": body})
    with pytest.raises(SourceFailure, match="Customer store offline"):
        await request.run("fault-please")  # HTTP 500, as SOAP 1.1 sends faults
    with pytest.raises(SourceFailure, match="Customer store offline"):
        await request.run("fault-200")
    down = xml_client.prepare({"path": "/soap-down", "soap": True, "body": body})
    with pytest.raises(SourceFailure, match="HTTP 502"):
        await down.run("x")


@pytest.mark.parametrize("path", ["/bomb", "/xxe", "/xxe-lower", "/xxe-utf16"])
async def test_hostile_documents_are_refused(xml_client: XmlHttpClient, path: str) -> None:
    request = xml_client.prepare({"method": "GET", "path": path})
    with pytest.raises(SourceFailure, match="document type declarations are refused") as caught:
        await request.run("x")
    chain: list[BaseException] = []
    error: BaseException | None = caught.value
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or error.__context__
    text = " ".join(f"{error!s} {error!r}" for error in chain)
    assert "root:" not in text and "/bin/" not in text and "lollol" not in text


async def test_xml_error_replies_fail(xml_client: XmlHttpClient) -> None:
    with pytest.raises(SourceFailure, match="not well-formed"):
        await xml_client.prepare({"method": "GET", "path": "/broken"}).run("x")
    with pytest.raises(SourceFailure, match="HTTP 503"):
        await xml_client.prepare({"method": "GET", "path": "/down"}).run("x")


async def test_xml_body_over_the_cap_fails_and_big_bodies_parse(
    xml_base: tuple[str, Recorder],
) -> None:
    small = XmlHttpClient({"base_url": xml_base[0], "max_response_bytes": 64 * 1024})
    large = XmlHttpClient({"base_url": xml_base[0]})
    try:
        with pytest.raises(SourceFailure, match="cap"):
            await small.prepare({"method": "GET", "path": "/big"}).run("x")
        reply = await large.prepare({"method": "GET", "path": "/big"}).run("x")  # in a thread
        calls = large.paths.selector("Calls/Call")(reply)
        assert len(calls) == 3000
        assert large.paths.getter("Agent")(calls[-1]) == "A2999"
    finally:
        await small.close()
        await large.close()


@pytest.mark.parametrize(
    "value", ["</Phone><Phone>+1", "&", "a&amp;b", "\"'<>]]>", "line\r\nbreak\ttab", "é中"]
)
async def test_value_is_escaped_in_the_body(
    xml_client: XmlHttpClient, xml_base: tuple[str, Recorder], value: str
) -> None:
    request = xml_client.prepare(
        {
            "path": "/echo",
            "body": "<Find><Phone>{value}</Phone><Hint q=\"{value}\" r='{value}'/></Find>",
        }
    )
    await request.run(value)
    received = etree.fromstring(xml_base[1].last.body)
    phones = received.findall("Phone")
    assert len(phones) == 1 and phones[0].text == value
    hint = received.find("Hint")
    assert hint is not None and hint.get("q") == value and hint.get("r") == value
    assert xml_base[1].last.headers["Content-Type"] == "application/xml; charset=utf-8"


async def test_configured_headers_replace_defaults_whatever_their_case(
    xml_base: tuple[str, Recorder],
) -> None:
    client = XmlHttpClient({"base_url": xml_base[0], "headers": {"accept": "text/xml"}})
    try:
        request = client.prepare(
            {
                "path": "/echo",
                "body": "<Find>{value}</Find>",
                "headers": {"content-type": "application/x-legacy+xml", "X-Key": "k"},
            }
        )
        await request.run("C-1")
    finally:
        await client.close()
    seen = xml_base[1].last
    assert seen.header_values("Content-Type") == ["application/x-legacy+xml"]
    assert seen.header_values("Accept") == ["text/xml"]
    assert seen.header_values("X-Key") == ["k"]


async def test_value_xml_cannot_carry_fails(xml_client: XmlHttpClient) -> None:
    request = xml_client.prepare({"path": "/echo", "body": "<Find>{value}</Find>"})
    with pytest.raises(SourceFailure, match="XML cannot carry"):
        await request.run("bell\x07")


@pytest.mark.parametrize(
    "request_options",
    [
        {"path": "/echo", "body": "<Find>{value}</Find"},
        {"path": "/echo", "body": "<{value}/>"},
        {"path": "/echo", "body": "<a><!-- {value} --></a>"},
        {"path": "/echo", "body": "<a><![CDATA[{value}]]></a>"},
        {"path": "/echo", "body": '<!DOCTYPE a [<!ENTITY e "x">]><a>{value}</a>'},
        {"path": "/echo", "body": "<a>{value}</a>", "method": "GET"},
        {"path": "/echo", "soap": True},
        {"path": "/echo", "body": "<a/>", "soap_action": "x"},
        {"path": "/echo", "records": "Calls/Call"},
        {"path": "/echo", "namespaces": {"c": NS}},
        {"path": "echo"},
    ],
)
def test_xml_bad_request_templates(request_options: dict[str, Any]) -> None:
    client = XmlHttpClient({"base_url": "http://127.0.0.1:1"})
    with pytest.raises(ValueError):
        client.prepare(request_options)


@pytest.mark.parametrize("path", ["Calls/Call[", "c:Agent", "nope(1)", "$var", ""])
def test_bad_xpaths_fail_at_prepare(path: str) -> None:
    paths = XPathPaths({"x": NS})
    with pytest.raises(ValueError):
        paths.getter(path)
    with pytest.raises(ValueError):
        paths.selector(path)


def test_xml_bad_connections() -> None:
    with pytest.raises(ValueError):
        XmlHttpClient({"base_url": "http://x", "namespaces": {"c": NS}})  # names are stripped
    with pytest.raises(ValueError):
        XmlHttpClient({"base_url": "http://x", "soap": True})
    client = open_client("xml", {"base_url": "http://x", "ignore_namespaces": False})
    assert isinstance(client, XmlHttpClient)

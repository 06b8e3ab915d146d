"""A simulated legacy call center: XML over HTTP, SOAP 1.1 style, keyed by phone number.

Why it looks like this: the call centers kefu has to read are old systems that only know
the caller's phone number and only speak XML. Parsing XML from another department is an
attack surface (entity expansion, external entities), so this simulator parses the way
kefu's connector must: no DTDs, no entities, no network, and any DOCTYPE refused.

Endpoints
    ``POST /soap/CallHistory`` a SOAP 1.1 envelope with ``GetCallHistory/Phone``; answers
    ``GetCallHistoryResponse/Calls`` in a SOAP envelope, or a SOAP Fault (400 for a bad
    request, 500 for a simulated failure).
    ``GET /calls?phone=+86...`` the same ``<Calls>`` document without SOAP; errors are a
    plain ``<Error code="...">`` document.

Both answer ``<Calls xmlns="urn:kefu-demo:callcenter"/>`` (empty) for an unknown phone.

Write endpoint (the refund saga's note step), :mod:`kefu.demo_systems.callcenter_notes`:
``POST /soap/Notes`` with ``AddNote`` (``CustomerRef``, ``Text``) or ``RemoveNote``
(``AddNoteKey``: the key of the ``AddNote`` to undo), each carrying its idempotency key
in an ``IdempotencyKey`` element or the ``Idempotency-Key`` header.
Each ``<Call id="...">`` has ``Direction``, ``Agent``, ``DurationSeconds``, ``Outcome``,
``Notes``, ``StartedAt`` (``2026-02-27T11:55:41Z``) and ``Queue``, newest call first.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Final

from aiohttp import web
from lxml import etree

from kefu.demo_systems import BEHAVIOUR, Behaviour, serve_app
from kefu.demo_systems.dataset import Call, Dataset, build_dataset

SOAP_ENV_NS: Final = "http://schemas.xmlsoap.org/soap/envelope/"
CALLCENTER_NS: Final = "urn:kefu-demo:callcenter"
SOAP_ACTION: Final = "urn:kefu-demo:callcenter#GetCallHistory"
SOAP_PATH: Final = "/soap/CallHistory"
PLAIN_PATH: Final = "/calls"
#: A call-history request is a few hundred bytes; anything near this is not one.
MAX_REQUEST_BYTES: Final = 64 * 1024
XML_CONTENT_TYPE: Final = "text/xml"

DATASET = web.AppKey("kefu_demo_callcenter_dataset", Dataset)

_ENVELOPE = f"{{{SOAP_ENV_NS}}}Envelope"
_BODY = f"{{{SOAP_ENV_NS}}}Body"
_FAULT = f"{{{SOAP_ENV_NS}}}Fault"
# lxml spells "default namespace" as the prefix None; the stubs only allow str prefixes.
_DOCTYPE_MARKERS: Final = tuple(
    "<!DOCTYPE".encode(codec)
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)
_DEFAULT_NS: Final[Mapping[str, str]] = {None: CALLCENTER_NS}  # type: ignore[dict-item]


class BadRequestError(ValueError):
    """The request document is not a well-formed, DTD-free GetCallHistory request."""


def callcenter_app(
    dataset: Dataset,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    failure_rate: float = 0,
    seed: int | None = None,
) -> web.Application:
    """The call center as an aiohttp app; read its counters with ``simulator_stats(app)``.

    ``latency_ms`` +/- ``jitter_ms`` is slept before every answer, and ``failure_rate`` of
    the requests (drawn from ``seed``) answer a SOAP Fault with HTTP 500.
    """
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[DATASET] = dataset
    app[BEHAVIOUR] = Behaviour(latency_ms, jitter_ms, failure_rate, seed)
    app.router.add_post(SOAP_PATH, _soap_call_history)
    app.router.add_get(PLAIN_PATH, _plain_calls)
    # Imported here: the notes module builds on this one's envelope helpers.
    from kefu.demo_systems.callcenter_notes import add_note_routes

    add_note_routes(app)
    return app


@contextlib.asynccontextmanager
async def running_callcenter(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    dataset: Dataset | None = None,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    failure_rate: float = 0,
    seed: int | None = None,
    access_log: bool = False,
) -> AsyncIterator[str]:
    """Serve the call center (default dataset unless given) and yield its base URL."""
    app = callcenter_app(
        dataset if dataset is not None else build_dataset(),
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        failure_rate=failure_rate,
        seed=seed,
    )
    async with serve_app(app, host, port, access_log=access_log) as url:
        yield url


def call_history_request(phone: str) -> bytes:
    """The SOAP request a client sends for ``phone``; built with lxml, so it is escaped."""
    envelope = etree.Element(_ENVELOPE, nsmap={"soap": SOAP_ENV_NS})
    body = etree.SubElement(envelope, _BODY)
    request = etree.SubElement(body, tag("GetCallHistory"), nsmap=_DEFAULT_NS)
    etree.SubElement(request, tag("Phone")).text = phone
    return _serialize(envelope)


def parse_xml(document: bytes) -> etree._Element:
    """Parse untrusted XML: no entity expansion, no network, no DTD, DOCTYPE refused.

    ``resolve_entities=False`` and ``load_dtd=False`` already stop billion-laughs and
    external-entity attacks; refusing any DOCTYPE on top means a document that even tries
    is rejected rather than half-understood. The raw bytes are checked first (in every
    encoding libxml2 guesses without a declaration) so a hostile internal subset is never
    even parsed; the parsed document is checked again for encodings that hide it.
    """
    if any(marker in document for marker in _DOCTYPE_MARKERS):
        raise BadRequestError("a DOCTYPE is not allowed")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as exc:
        raise BadRequestError(f"malformed XML: {exc.msg}") from exc
    info = root.getroottree().docinfo
    if info.internalDTD is not None or info.externalDTD is not None:
        raise BadRequestError("a DOCTYPE is not allowed")
    return root


def phone_from_request(document: bytes) -> str:
    """The phone number asked for in a ``GetCallHistory`` SOAP request."""
    root = parse_xml(document)
    if root.tag != _ENVELOPE:
        raise BadRequestError("not a SOAP 1.1 envelope")
    body = root.find(_BODY)
    operation = None if body is None else body.find(tag("GetCallHistory"))
    if operation is None:
        raise BadRequestError("expected soap:Body/GetCallHistory")
    # Older clients send the child unqualified (elementFormDefault="unqualified").
    phone = operation.findtext(tag("Phone")) or operation.findtext("Phone")
    if not phone or not phone.strip():
        raise BadRequestError("GetCallHistory/Phone is required")
    return phone.strip()


def calls_element(calls: Iterable[Call]) -> etree._Element:
    """``<Calls>`` with one ``<Call>`` per call; lxml escapes every text."""
    root = etree.Element(tag("Calls"), nsmap=_DEFAULT_NS)
    for call in calls:
        element = etree.SubElement(root, tag("Call"), id=call.call_id)
        for name, value in (
            ("Direction", call.direction),
            ("Agent", call.agent),
            ("DurationSeconds", str(call.duration_seconds)),
            ("Outcome", call.outcome),
            ("Notes", call.notes),
            ("StartedAt", call.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("Queue", call.queue),
        ):
            etree.SubElement(element, tag(name)).text = value
    return root


async def _soap_call_history(request: web.Request) -> web.Response:
    async with request.app[BEHAVIOUR].handling() as fails:
        if fails:
            return soap_fault(500, "soap:Server", "call center backend unavailable")
        try:
            phone = phone_from_request(await request.read())
        except BadRequestError as exc:
            return soap_fault(400, "soap:Client", str(exc))
        envelope = etree.Element(_ENVELOPE, nsmap={"soap": SOAP_ENV_NS})
        body = etree.SubElement(envelope, _BODY)
        answer = etree.SubElement(body, tag("GetCallHistoryResponse"), nsmap=_DEFAULT_NS)
        answer.append(calls_element(request.app[DATASET].calls_of_phone(phone)))
        return xml_response(200, envelope)


async def _plain_calls(request: web.Request) -> web.Response:
    async with request.app[BEHAVIOUR].handling() as fails:
        if fails:
            return _plain_error(500, "Server", "call center backend unavailable")
        phone = request.query.get("phone", "").strip()
        if not phone:
            return _plain_error(400, "Client", "the phone query parameter is required")
        return xml_response(200, calls_element(request.app[DATASET].calls_of_phone(phone)))


def soap_fault(status: int, code: str, message: str) -> web.Response:
    envelope = etree.Element(_ENVELOPE, nsmap={"soap": SOAP_ENV_NS})
    fault = etree.SubElement(etree.SubElement(envelope, _BODY), _FAULT)
    # SOAP 1.1: faultcode and faultstring are unqualified.
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = message
    return xml_response(status, envelope)


def _plain_error(status: int, code: str, message: str) -> web.Response:
    error = etree.Element(tag("Error"), nsmap=_DEFAULT_NS, code=code)
    error.text = message
    return xml_response(status, error)


def xml_response(status: int, root: etree._Element) -> web.Response:
    return web.Response(
        status=status, body=_serialize(root), content_type=XML_CONTENT_TYPE, charset="utf-8"
    )


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def tag(name: str) -> str:
    return f"{{{CALLCENTER_NS}}}{name}"

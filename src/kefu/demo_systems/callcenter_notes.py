"""The call center's write side: notes filed on a customer, over SOAP 1.1, idempotent.

A refund saga logs "refunded order X" in the call center, so the next phone agent sees it;
the compensation removes that note again. The legacy system knows nothing of HTTP
idempotency headers, so the key travels in the envelope (``IdempotencyKey``, the header
``Idempotency-Key`` is accepted as a fallback): the same key again answers the same and
files nothing new.

``POST /soap/Notes``, SOAPAction ``urn:kefu-demo:callcenter#AddNote`` or ``#RemoveNote``
(the operation is read from the body; the header is not needed)::

    <AddNote xmlns="urn:kefu-demo:callcenter">
      <CustomerRef>C1001</CustomerRef><Text>Refunded order 100231</Text>
      <IdempotencyKey>saga_ab:log_call_note:do</IdempotencyKey>
    </AddNote>
    -> <AddNoteResponse><NoteId>N-000001</NoteId></AddNoteResponse>

    <RemoveNote xmlns="urn:kefu-demo:callcenter">
      <AddNoteKey>saga_ab:log_call_note:do</AddNoteKey>
      <IdempotencyKey>saga_ab:log_call_note:undo</IdempotencyKey>
    </RemoveNote>
    -> <RemoveNoteResponse><Removed>true</Removed></RemoveNoteResponse>
       (false: no such note, or removed already)

A bad request is a ``soap:Client`` fault (HTTP 400), a simulated outage a ``soap:Server``
fault (HTTP 503: a failure knob, or a reply lost after applying). ``GET /notes?ref=C1001`` lists
the notes present (``<Notes><Note id="..">text</Note></Notes>``); ``notes_of(app, ref)``
reads them in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aiohttp import web
from lxml import etree

from kefu.demo_systems import BEHAVIOUR
from kefu.demo_systems.callcenter import (
    _BODY,
    _DEFAULT_NS,
    _ENVELOPE,
    CALLCENTER_NS,
    SOAP_ENV_NS,
    BadRequestError,
    parse_xml,
    soap_fault,
    tag,
    xml_response,
)
from kefu.demo_systems.writes import (
    IDEMPOTENCY_HEADER,
    Answer,
    MemoryLedger,
    check_key,
    idempotent_write,
)

NOTES_PATH: Final = "/soap/Notes"
NOTES_LIST_PATH: Final = "/notes"
ADD_NOTE_ACTION: Final = f"{CALLCENTER_NS}#AddNote"
REMOVE_NOTE_ACTION: Final = f"{CALLCENTER_NS}#RemoveNote"
MAX_NOTE_CHARS: Final = 2000
MAX_REF_CHARS: Final = 64


@dataclass(slots=True)
class Note:
    note_id: str
    customer_ref: str
    text: str
    removed: bool = False


class NotesBook:
    """The notes filed, by the key of the ``AddNote`` that filed each."""

    def __init__(self) -> None:
        self.by_key: dict[str, Note] = {}
        self.ledger = MemoryLedger()


NOTES = web.AppKey("kefu_demo_callcenter_notes", NotesBook)


def notes_of(app: web.Application, customer_ref: str) -> list[Note]:
    """The notes present (not removed) on ``customer_ref``, oldest first."""
    notes = app[NOTES].by_key.values()
    return [n for n in notes if n.customer_ref == customer_ref and not n.removed]


def add_note_routes(app: web.Application) -> None:
    app[NOTES] = NotesBook()
    app.router.add_post(NOTES_PATH, _notes)
    app.router.add_get(NOTES_LIST_PATH, _list_notes)


def _envelope(name: str, children: dict[str, str]) -> etree._Element:
    envelope = etree.Element(_ENVELOPE, nsmap={"soap": SOAP_ENV_NS})
    body = etree.SubElement(envelope, _BODY)
    answer = etree.SubElement(body, tag(name), nsmap=_DEFAULT_NS)
    for child, text in children.items():
        etree.SubElement(answer, tag(child)).text = text
    return envelope


def _answer(status: int, root: etree._Element) -> Answer:
    return Answer(status, etree.tostring(root, xml_declaration=True, encoding="utf-8"), "text/xml")


def _fault_answer(status: int, code: str, message: str) -> Answer:
    envelope = etree.Element(_ENVELOPE, nsmap={"soap": SOAP_ENV_NS})
    fault = etree.SubElement(etree.SubElement(envelope, _BODY), f"{{{SOAP_ENV_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = message
    return _answer(status, envelope)


def _field(operation: etree._Element, name: str) -> str:
    # Older clients send children unqualified (elementFormDefault="unqualified").
    return (operation.findtext(tag(name)) or operation.findtext(name) or "").strip()


def _operation(document: bytes) -> etree._Element:
    root = parse_xml(document)
    if root.tag != _ENVELOPE:
        raise BadRequestError("not a SOAP 1.1 envelope")
    body = root.find(_BODY)
    operation = None if body is None else next(iter(body), None)
    if operation is None or operation.tag not in (tag("AddNote"), tag("RemoveNote")):
        raise BadRequestError("expected soap:Body/AddNote or soap:Body/RemoveNote")
    return operation


async def _notes(request: web.Request) -> web.Response:
    try:
        operation = _operation(await request.read())
    except BadRequestError as exc:
        return soap_fault(400, "soap:Client", str(exc))
    key = _field(operation, "IdempotencyKey") or request.headers.get(IDEMPOTENCY_HEADER, "")
    problem = check_key(key)
    if problem is not None:
        return soap_fault(400, "soap:Client", problem)
    book = request.app[NOTES]
    if operation.tag == tag("AddNote"):
        ref, text = _field(operation, "CustomerRef"), _field(operation, "Text")
        if not ref or len(ref) > MAX_REF_CHARS:
            return soap_fault(400, "soap:Client", f"CustomerRef: 1 to {MAX_REF_CHARS} characters")
        if not text or len(text) > MAX_NOTE_CHARS:
            return soap_fault(400, "soap:Client", f"Text: 1 to {MAX_NOTE_CHARS} characters")

        async def apply() -> tuple[Answer, bool]:
            note = Note(f"N-{len(book.by_key) + 1:06d}", ref, text)
            book.by_key[key] = note
            answer = _answer(200, _envelope("AddNoteResponse", {"NoteId": note.note_id}))
            return book.ledger.remember(key, answer), True

    else:
        undo = _field(operation, "AddNoteKey")
        if not undo:
            return soap_fault(400, "soap:Client", "AddNoteKey (the AddNote's key) is required")

        async def apply() -> tuple[Answer, bool]:
            note = book.by_key.get(undo)
            removed = note is not None and not note.removed
            if note is not None:
                note.removed = True
            answer = _answer(
                200, _envelope("RemoveNoteResponse", {"Removed": "true" if removed else "false"})
            )
            return book.ledger.remember(key, answer), removed

    return await idempotent_write(
        request.app[BEHAVIOUR],
        book.ledger.locks,
        key,
        replay=lambda: book.ledger.replay(key),
        apply=apply,
        failure=lambda: _fault_answer(503, "soap:Server", "call center backend unavailable"),
    )


async def _list_notes(request: web.Request) -> web.Response:
    ref = request.query.get("ref", "")
    root = etree.Element(tag("Notes"), nsmap=_DEFAULT_NS)
    for note in notes_of(request.app, ref):
        etree.SubElement(root, tag("Note"), id=note.note_id).text = note.text
    return xml_response(200, root)

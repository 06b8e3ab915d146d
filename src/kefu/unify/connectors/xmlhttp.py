"""XML-over-HTTP and SOAP department systems (the call center's legacy interface).

Hardened because such replies are the easiest place to smuggle an attack: a document
with a DOCTYPE is refused outright (which stops entity expansion bombs and external
entities: XXE), the parser never resolves entities, loads DTDs or touches the network,
and bodies are capped by size. A customer value enters a request body only XML-escaped
(quotes too, so it is safe in attributes), enters a path only as one percent-encoded
segment, and a query only through httpx's encoding.

Fields are addressed with XPath, relative to each record element. Most legacy documents
declare a default namespace (``xmlns="urn:kefu-demo:callcenter"``); with the default
``ignore_namespaces: true`` the parsed tree is rewritten to local names, so plain paths
such as ``Calls/Call``, ``Agent`` or ``@id`` just work. With ``ignore_namespaces: false``
every namespaced name needs a prefix from the ``namespaces`` option, e.g.
``namespaces: {c: "urn:kefu-demo:callcenter"}`` and paths ``c:Calls/c:Call``.

Encodings: a document is read in the encoding its XML declaration names (GBK, GB18030,
UTF-16 …); one without a declaration or byte-order mark is read in the HTTP
``Content-Type``'s ``charset``, else as UTF-8.

Connection options: ``base_url``, ``headers``, ``max_response_bytes``, ``verify_tls``,
``max_connections``, ``ignore_namespaces``, ``namespaces``. Request options: ``method``
(GET|POST), ``path``, ``params``, ``headers``, ``body``, ``soap``, ``soap_action``.
"""

from __future__ import annotations

import asyncio
import codecs
import math
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal
from xml.sax.saxutils import escape

from lxml import etree
from pydantic import Field, field_validator, model_validator

from kefu.unify.connector import SourceFailure
from kefu.unify.connectors._http import (
    PLACEHOLDER,
    HttpConnection,
    HttpRequestOptions,
    LazyHttpClient,
    fetch,
    fill_path,
    merge_headers,
)

THREAD_PARSE_BYTES = 64 * 1024
"""Bodies larger than this are parsed in a worker thread so the event loop never stalls."""

_DOCTYPE = re.compile(rb"<!doctype", re.IGNORECASE)
# Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Quotes for attributes; CR, LF and TAB as references so attribute normalisation keeps them.
_ESCAPES = {'"': "&quot;", "'": "&apos;", "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"}
# A first step: optional axis or "@", optional prefix, then the local name (not a function).
_HEAD = re.compile(
    r"^(?:\./)?(?P<axis>@|attribute::|child::)?"
    r"(?:[^\W\d][\w.\-]*:)?(?P<name>[^\W\d][\w.\-]*+)(?!\s*\()"
)
_MARKER = "kefuValueMarker7f3a"
_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>", re.DOTALL)

_PARSE_ERRORS = (etree.XMLSyntaxError, ValueError)


_DECLARES_ENCODING = re.compile(rb"^<\?xml\b[^>]*?\bencoding\s*=")
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([A-Za-z0-9._:\-]+)", re.IGNORECASE)


def _parser(encoding: str | None = None) -> etree.XMLParser:
    # A fresh parser per document: cheap, and safe to use from a worker thread.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        encoding=encoding,
    )


def header_charset(content_type: str) -> str | None:
    """The ``charset`` of a Content-Type header when it is a known one other than UTF-8
    (XML's own default), else None."""
    match = _CHARSET.search(content_type)
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1)).name
    except LookupError:
        return None
    return None if name == "utf-8" else match.group(1)


def _undeclared_encoding(charset: str | None, body: bytes) -> str | None:
    """The encoding to parse ``body`` with when the document does not say its own.

    Legacy servers (a GBK call center) often send ``Content-Type: text/xml; charset=GBK``
    and no ``<?xml … encoding="GBK"?>``; XML then defaults to UTF-8 and the reply fails.
    A document that declares its encoding (or starts with a byte-order mark) is believed
    over the header: such servers get the declaration right more often than the header.
    """
    if charset is None or body.startswith(_BOMS) or _DECLARES_ENCODING.match(body):
        return None
    return charset


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _strip_namespaces(root: etree._Element) -> None:
    """Rewrite every tag and attribute name to its local name, then drop the declarations."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        element.tag = _local(element)
        for name in [str(name) for name in element.attrib if str(name).startswith("{")]:
            local = etree.QName(name).localname
            text = str(element.attrib.pop(name))
            if local not in element.attrib:
                element.attrib[local] = text
    etree.cleanup_namespaces(root)


def parse_document(
    body: bytes, *, strip_namespaces: bool, charset: str | None = None
) -> etree._Element:
    """Parse a reply into its root element, refusing anything with a DOCTYPE.

    The byte check stops ASCII-compatible documents before the parser sees them; the
    docinfo check catches the same declaration in encodings the byte check cannot read
    (UTF-16). Error messages never quote the document. ``charset`` (the HTTP header's)
    applies to a document that declares no encoding of its own.
    """
    if _DOCTYPE.search(body):
        raise SourceFailure("document type declarations are refused")
    try:
        parser = _parser(_undeclared_encoding(charset, body))
    except LookupError:  # a charset Python knows and libxml2 does not
        parser = _parser()
    try:
        root = etree.fromstring(body, parser)
    except _PARSE_ERRORS:
        raise SourceFailure("reply is not well-formed XML") from None
    docinfo = root.getroottree().docinfo
    doctype: str = getattr(docinfo, "doctype", "")  # missing from lxml-stubs
    if doctype or docinfo.internalDTD is not None:
        raise SourceFailure("document type declarations are refused")
    if strip_namespaces:
        _strip_namespaces(root)
    return root


def _text(element: etree._Element) -> str:
    return "".join(str(text) for text in element.itertext()).strip()


def escape_value(value: str) -> str:
    """The value as XML character data, safe in element text and in attribute values."""
    if _NOT_XML_CHAR.search(value):
        raise SourceFailure("the value has characters XML cannot carry")
    return escape(value, _ESCAPES)


class XPathPaths:
    """The ``PathLanguage`` of XML replies: XPath 1.0, relative to each record element.

    ``namespaces`` maps prefixes to URIs for every path of the source; it is only needed
    with ``ignore_namespaces: false``.
    """

    def __init__(self, namespaces: Mapping[str, str] | None = None) -> None:
        self._namespaces = dict(namespaces or {})

    def _compile(self, path: str) -> etree.XPath:
        try:
            compiled = etree.XPath(path, namespaces=self._namespaces, smart_strings=False)
            # Evaluating once on a dummy element finds what compiling cannot: undefined
            # prefixes, unknown functions and variables.
            compiled(etree.Element("kefu"))
        except etree.XPathError as exc:
            raise ValueError(f"{path!r} is not a usable XPath: {exc}") from None
        return compiled

    def getter(self, path: str) -> Callable[[Any], Any]:
        compiled = self._compile(path)

        def get(record: Any) -> Any:
            if not isinstance(record, etree._Element):
                return None
            return _scalar(compiled(record))

        return get

    def selector(self, path: str | None) -> Callable[[Any], list[Any]]:
        if path is None:
            return lambda reply: [reply] if isinstance(reply, etree._Element) else []
        compiled = self._compile(path)

        def select(reply: Any) -> list[Any]:
            if not isinstance(reply, etree._Element):
                return []
            result = compiled(reply)
            if not isinstance(result, list):
                return []
            return [item for item in result if isinstance(item, etree._Element)]

        return select

    def fields(self, record: Any) -> dict[str, Any]:
        if not isinstance(record, etree._Element):
            return {}
        return _fields(record)

    def head(self, path: str) -> str:
        match = _HEAD.match(path.strip())
        if match is None:
            return path
        return ("@" if match["axis"] in ("@", "attribute::") else "") + match["name"]


def _scalar(result: Any) -> Any:
    """The first result of an XPath as a plain value (None when there is none)."""
    if isinstance(result, list):
        if not result:
            return None
        result = result[0]
    if isinstance(result, etree._Element):
        return _text(result)
    if isinstance(result, bool):
        return result
    if isinstance(result, float):
        if math.isnan(result):
            return None
        return int(result) if result.is_integer() else result
    if isinstance(result, str):
        return str(result)
    return None


def _fields(element: etree._Element) -> dict[str, Any]:
    """Attributes as ``@name``; leaf children as text, others nested; repeats as lists."""
    out: dict[str, Any] = {
        "@" + etree.QName(name).localname: str(text) for name, text in element.attrib.items()
    }
    children = [child for child in element if isinstance(child.tag, str)]
    counts: dict[str, int] = {}
    for child in children:
        counts[_local(child)] = counts.get(_local(child), 0) + 1
    for child in children:
        has_children = any(isinstance(grandchild.tag, str) for grandchild in child)
        value: Any = _fields(child) if has_children else _text(child)
        name = _local(child)
        if counts[name] > 1:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


class XmlConnection(HttpConnection):
    """The ``connection:`` options of an XML/SOAP source."""

    ignore_namespaces: bool = True
    namespaces: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _namespaces_need_them(self) -> XmlConnection:
        if self.namespaces and self.ignore_namespaces:
            raise ValueError(
                "namespaces only apply with ignore_namespaces: false "
                "(by default names are stripped to their local part)"
            )
        return self


class XmlRequest(HttpRequestOptions):
    """An XML request template: ``body`` is XML text with ``{value}`` placeholders."""

    method: Literal["GET", "POST"] = "POST"
    body: str | None = None
    soap: bool = False
    soap_action: str | None = None

    @field_validator("body")
    @classmethod
    def _well_formed(cls, body: str | None) -> str | None:
        if body is not None:
            check_body_template(body)
        return body

    @field_validator("soap_action")
    @classmethod
    def _one_line(cls, action: str | None) -> str | None:
        if action is not None and re.search(r"[\r\n\x00]", action):
            raise ValueError("soap_action has a line break or NUL")
        return action

    @model_validator(mode="after")
    def _consistent(self) -> XmlRequest:
        if self.body is not None and self.method != "POST":
            raise ValueError("a body needs method: POST")
        if self.soap and self.body is None:
            raise ValueError("soap: true needs a body (the SOAP envelope)")
        if self.soap_action is not None and not self.soap:
            raise ValueError("soap_action needs soap: true")
        return self


def check_body_template(body: str, placeholders: Collection[str] = (PLACEHOLDER,)) -> None:
    """Refuse a body that is not well-formed, or that puts a placeholder outside data.

    A marker stands in for each placeholder (``{value}`` here; the saga actions' SOAP
    envelopes have several); it must come back only in element text or attribute values,
    exactly as often as the placeholders occur. Anywhere else (a tag name, a comment) an
    escaped value could still break the document.
    """
    if _MARKER in body:
        raise ValueError("body contains a reserved word")
    probe_text = body
    for placeholder in placeholders:
        probe_text = probe_text.replace(placeholder, _MARKER)
    probe = probe_text.encode("utf-8")
    if _DOCTYPE.search(probe):
        raise ValueError("body may not have a document type declaration")
    try:
        root = etree.fromstring(probe, _parser())
    except _PARSE_ERRORS as exc:
        raise ValueError(f"body is not well-formed XML: {exc}") from None
    encoding = (root.getroottree().docinfo.encoding or "UTF-8").upper()
    if encoding not in ("UTF-8", "UTF8"):
        raise ValueError("body is sent as UTF-8; drop or fix its encoding declaration")
    found = 0
    for element in root.iter():
        found += sum(str(text).count(_MARKER) for text in element.attrib.values())
        found += (element.text or "").count(_MARKER) + (element.tail or "").count(_MARKER)
    # Tag or attribute names, comments and processing instructions are not counted, so
    # the marker there shows up as a mismatch.
    named = " ".join(sorted(placeholders))
    if found != probe_text.count(_MARKER):
        raise ValueError(f"{named} may appear only in element text or attribute values")
    if any(p in section for section in _CDATA.findall(body) for p in placeholders):
        raise ValueError(f"{named} inside CDATA would arrive escaped twice")


class XmlPreparedRequest:
    """One validated XML template bound to its source's pool."""

    def __init__(self, client: XmlHttpClient, options: XmlRequest) -> None:
        self._client = client
        self._options = options

    async def run(self, value: str) -> Any:
        options = self._options
        defaults = {"Accept": "application/xml, text/xml"}
        content: bytes | None = None
        if options.body is not None:
            content = options.body.replace(PLACEHOLDER, escape_value(value)).encode("utf-8")
            if options.soap:
                defaults["Content-Type"] = "text/xml; charset=utf-8"
                if options.soap_action is not None:
                    action = options.soap_action
                    defaults["SOAPAction"] = action if action.startswith('"') else f'"{action}"'
            else:
                defaults["Content-Type"] = "application/xml; charset=utf-8"
        headers = merge_headers(defaults, self._client.options.headers, options.headers)
        soap = options.soap
        reply = await fetch(
            self._client.http.get(),
            options.method,
            fill_path(options.path, value),
            max_bytes=self._client.options.max_response_bytes,
            params=options.filled_params(value),
            headers=headers,
            content=content,
            # SOAP 1.1 reports a fault with HTTP 500: read it for the fault's reason.
            want_body=lambda status: 200 <= status < 300 or (soap and status >= 400),
        )
        charset = header_charset(reply.content_type)
        if 200 <= reply.status < 300:
            root = await self._parse(reply.body, charset)
            return _soap_body(root) if soap else root
        if soap:
            try:
                _soap_body(await self._parse(reply.body, charset))
            except SoapFault:
                raise
            except SourceFailure:
                pass
        raise SourceFailure(f"HTTP {reply.status}")

    async def _parse(self, body: bytes, charset: str | None) -> etree._Element:
        strip = self._client.options.ignore_namespaces
        if len(body) > THREAD_PARSE_BYTES:
            return await asyncio.to_thread(
                parse_document, body, strip_namespaces=strip, charset=charset
            )
        return parse_document(body, strip_namespaces=strip, charset=charset)


class SoapFault(SourceFailure):
    """The source answered with a SOAP Fault; the message carries its reason."""


def _soap_body(envelope: etree._Element) -> etree._Element | None:
    """The first element inside ``Envelope/Body`` (None for an empty Body); faults raise."""
    if _local(envelope) != "Envelope":
        raise SourceFailure("reply is not a SOAP envelope")
    body = next(
        (child for child in envelope if isinstance(child.tag, str) and _local(child) == "Body"),
        None,
    )
    if body is None:
        raise SourceFailure("SOAP envelope has no Body")
    first = next((child for child in body if isinstance(child.tag, str)), None)
    if first is not None and _local(first) == "Fault":
        raise SoapFault(f"SOAP fault: {_fault_reason(first)}")
    return first


def _fault_reason(fault: etree._Element) -> str:
    # SOAP 1.1 has faultstring; SOAP 1.2 has Reason/Text.
    for element in fault.iter():
        if isinstance(element.tag, str) and _local(element) in ("faultstring", "Text"):
            reason = _text(element)
            if reason:
                return reason[:200]
    return "no reason given"


class XmlHttpClient:
    """An XML-over-HTTP or SOAP source: one bounded httpx pool for all its templates."""

    def __init__(self, connection: Mapping[str, Any]) -> None:
        self.options = XmlConnection.model_validate(connection)
        self.http = LazyHttpClient(self.options)
        self._paths = XPathPaths(self.options.namespaces)

    @property
    def paths(self) -> XPathPaths:
        return self._paths

    def prepare(self, request: Mapping[str, Any]) -> XmlPreparedRequest:
        return XmlPreparedRequest(self, XmlRequest.model_validate(request))

    async def close(self) -> None:
        await self.http.aclose()

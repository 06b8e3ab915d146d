"""``kind: soap``: one SOAP 1.1/1.2 call to a legacy department system.

Options: ``path`` (template under ``base_url``), ``soap_action`` (the SOAPAction header),
``envelope`` (the XML request: placeholders only in element text or attribute values,
each value XML-escaped), ``headers``, ``result`` (``{field: XPath}`` read relative to the
response element inside ``soap:Body``, like the 360's ``xml`` connector paths; all of
its fields when absent). The idempotency key goes in the ``Idempotency-Key`` header and,
where the envelope says ``{idempotency_key}``, in the envelope.

A reply is parsed by the 360's hardened parser (no DTD, no entities, no network). A SOAP
Fault whose code is ``Client``/``Sender`` is the system's definite no (not retried);
``Server``/``Receiver`` and any other code are retried, as is any non-2xx without a
fault body by the rules of :mod:`kefu.sagas.actions._http`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.sagas.actions._http import HttpTarget, status_failure
from kefu.sagas.actions.base import ActionCall, ActionFailed
from kefu.sagas.actions.rest import _at
from kefu.sagas.actions.templates import HeaderTemplates, PathTemplate, XmlTemplate, call_context
from kefu.unify.connector import SourceFailure
from kefu.unify.connectors._http import merge_headers
from kefu.unify.connectors.xmlhttp import (
    XmlConnection,
    XPathPaths,
    header_charset,
    parse_document,
)

log = logging.getLogger(__name__)
_FAULT_REASON_CHARS = 160


class SoapOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    envelope: str
    soap_action: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    result: dict[str, str] = Field(default_factory=dict)
    soap_version: str = Field(default="1.1", pattern=r"^1\.[12]$")

    @field_validator("soap_action")
    @classmethod
    def _one_line(cls, action: str | None) -> str | None:
        if action is not None and re.search(r"[\r\n\x00]", action):
            raise ValueError("has a line break or NUL")
        return action


class SoapAction:
    kind = "soap"

    def __init__(self, options: SoapOptions, target: HttpTarget, connection: XmlConnection) -> None:
        self._options = options
        self._target = target
        self._strip = connection.ignore_namespaces
        paths = XPathPaths(connection.namespaces)
        self._paths = paths
        self._path = _at("path", PathTemplate, options.path)
        self._envelope = _at("envelope", XmlTemplate, options.envelope)
        self._headers = _at("headers", lambda h: HeaderTemplates(h, headers=True), options.headers)
        self._result: dict[str, Callable[[Any], Any]] = {
            name: _at(f"result.{name}", paths.getter, path) for name, path in options.result.items()
        }

    async def run(self, call: ActionCall) -> Mapping[str, Any]:
        context = call_context(call)
        options = self._options
        if options.soap_version == "1.2":
            content_type = "application/soap+xml; charset=utf-8"
            if options.soap_action:
                content_type += f'; action="{options.soap_action.strip(chr(34))}"'
            defaults = {"Content-Type": content_type}
        else:
            defaults = {"Content-Type": "text/xml; charset=utf-8"}
            if options.soap_action is not None:
                action = options.soap_action
                defaults["SOAPAction"] = action if action.startswith('"') else f'"{action}"'
        defaults["Accept"] = "text/xml, application/soap+xml"
        headers = merge_headers(
            defaults, self._target.options.headers, self._headers.render(context)
        )
        reply = await self._target.send(
            call,
            "POST",
            self._path.render(context),
            headers=httpx.Headers(headers),
            content=self._envelope.render(context),
        )
        name = self._target.name
        response: etree._Element | None = None
        if reply.body.strip():
            try:
                response = _body_element(
                    parse_document(
                        reply.body,
                        strip_namespaces=self._strip,
                        charset=header_charset(reply.content_type),
                    )
                )
            except SourceFailure as exc:
                if 200 <= reply.status < 300:
                    raise ActionFailed(f"{name}: {exc}", retryable=True) from None
        if response is not None and etree.QName(response).localname == "Fault":
            raise _fault(name, response)
        if not 200 <= reply.status < 300:
            raise status_failure(name, reply.status)
        if response is None:
            return {}
        if self._result:
            return {field: get(response) for field, get in self._result.items()}
        return self._paths.fields(response)

    async def close(self) -> None:
        await self._target.close()


def _body_element(envelope: etree._Element) -> etree._Element | None:
    """The first element inside ``Envelope/Body`` (None for an empty Body)."""
    if etree.QName(envelope).localname != "Envelope":
        raise SourceFailure("reply is not a SOAP envelope")
    body = next(
        (c for c in envelope if isinstance(c.tag, str) and etree.QName(c).localname == "Body"),
        None,
    )
    if body is None:
        raise SourceFailure("SOAP envelope has no Body")
    return next((child for child in body if isinstance(child.tag, str)), None)


def _fault(name: str, fault: etree._Element) -> ActionFailed:
    """A Fault's verdict: Client/Sender faults are final, the rest worth another try."""
    code = ""
    reason = ""
    for element in fault.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        text = "".join(str(t) for t in element.itertext()).strip()
        if local == "faultcode" or (local == "Value" and not code):
            code = text
        elif local in ("faultstring", "Text") and not reason:
            reason = text
    kind = code.rsplit(":", 1)[-1]
    final = kind.split(".")[0] in ("Client", "Sender")
    # The reason is the system's free text and may quote customer data: DEBUG only.
    log.debug("%s: SOAP fault %s: %s", name, kind, reason[:_FAULT_REASON_CHARS])
    return ActionFailed(f"{name}: SOAP fault {kind or 'without a code'}", retryable=not final)

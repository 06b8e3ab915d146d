"""The FastAPI application: routers, error shape, OpenAPI at ``/openapi.json``."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.models import Schema
from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from kefu import __version__
from kefu.api import errors
from kefu.api.asgi_bridge import PatientReceive
from kefu.api.json_bodies import StrictJsonText
from kefu.api.kernel import NativeOperation
from kefu.api.routes import (
    agents,
    api_tokens,
    attachments,
    auth,
    availability,
    console,
    conversations,
    customers,
    email,
    events,
    health,
    library,
    moderation,
    privacy,
    ratings,
    reports,
    sagas,
    sites,
    tickets,
    visitors,
    webhooks,
)
from kefu.node import Node


def create_api(node: Node, native: Sequence[NativeOperation] = ()) -> FastAPI:
    """The REST API; ``native`` documents the routes aiohttp serves itself in front of it
    (``kefu.web``), so ``/openapi.json`` describes every route a client can call."""
    app = FastAPI(
        title="kefu",
        version=__version__,
        description="Customer-service platform: live chat, customer 360, tickets, events.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.node = node
    errors.install(app)
    app.add_middleware(StrictJsonText)  # no lone surrogates into the stores (json_bodies)
    app.add_middleware(PatientReceive)  # see asgi_bridge: streaming responses would spin
    for module in (
        health,
        auth,
        conversations,
        ratings,
        visitors,
        attachments,
        availability,
        agents,
        library,
        moderation,
        console,
        customers,
        tickets,
        email,
        reports,
        events,
        api_tokens,
        webhooks,
        privacy,
        sagas,
        sites,
    ):
        app.include_router(module.router)
    _document(app, native)
    return app


def _document(app: FastAPI, native: Sequence[NativeOperation]) -> None:
    """Merge the native routes' operations into the generated schema (built once)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = generate()
        if fresh:
            for route in native:
                schema["paths"].setdefault(route.path, {})[route.method] = copy.deepcopy(
                    dict(route.operation)
                )
            known = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, component in _components(native).items():
                known.setdefault(name, component)
            schema["components"]["schemas"] = dict(sorted(known.items()))  # as FastAPI's
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _components(native: Sequence[NativeOperation]) -> dict[str, Any]:
    """The schemas of the models the native operations name, generated and encoded as
    FastAPI does for its own routes (one generator, so shared models get one name;
    ``null`` defaults left out), so a route moving to aiohttp leaves them unchanged."""
    models = [model for route in native for model in route.models]
    if not models:
        return {}
    generator = GenerateJsonSchema(ref_template="#/components/schemas/{model}")
    _, definitions = generator.generate_definitions(
        inputs=[
            (index, mode, TypeAdapter(kind).core_schema)
            for index, (kind, mode) in enumerate(models)
        ]
    )
    return {
        name: jsonable_encoder(Schema(**definition), by_alias=True, exclude_none=True)
        for name, definition in definitions.items()
    }

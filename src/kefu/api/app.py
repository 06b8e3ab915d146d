"""The FastAPI application: routers, error shape, OpenAPI at ``/openapi.json``."""

from __future__ import annotations

from fastapi import FastAPI

from kefu import __version__
from kefu.api import errors
from kefu.api.asgi_bridge import PatientReceive
from kefu.api.json_bodies import StrictJsonText
from kefu.api.routes import (
    agents,
    api_tokens,
    attachments,
    auth,
    availability,
    console,
    conversations,
    customers,
    events,
    health,
    library,
    moderation,
    privacy,
    ratings,
    reports,
    tickets,
    visitors,
    webhooks,
)
from kefu.node import Node


def create_api(node: Node) -> FastAPI:
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
        reports,
        events,
        api_tokens,
        webhooks,
        privacy,
    ):
        app.include_router(module.router)
    return app

"""Pydantic twins of wire Structs: a shape defined once, as the msgspec Struct the frames
encode, and documented and validated by FastAPI through a model made from it.

FastAPI needs pydantic models for ``response_model`` and ``/openapi.json``; writing the
same fields a second time as a ``BaseModel`` is how two copies drift. ``pydantic_twin``
reads the Struct's fields (names, resolved types, defaults) and builds the model, so the
REST schema follows the Struct.
"""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import BaseModel, create_model


def pydantic_twin(struct: type[msgspec.Struct], name: str) -> type[BaseModel]:
    """A ``BaseModel`` named ``name`` with ``struct``'s fields, types and defaults."""
    fields: dict[str, Any] = {}
    for field in msgspec.structs.fields(struct):
        if field.default is not msgspec.NODEFAULT:
            default: Any = field.default
        elif field.default_factory is not msgspec.NODEFAULT:
            default = field.default_factory()
        else:
            default = ...
        fields[field.encode_name] = (field.type, default)
    model: type[BaseModel] = create_model(name, __doc__=struct.__doc__, **fields)
    return model

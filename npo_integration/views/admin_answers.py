"""What every admin view answers alike: an unknown NPO, whether the CLI or the API asked, and
the request body read as JSON or as a model."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from faust import web
from pydantic import BaseModel, ValidationError

from npo_integration.json_input import JsonInputError, loads
from npo_integration.validation_errors import describe_validation_error

M = TypeVar("M", bound=BaseModel)


def unknown_npo(view: web.View, npo_id: str) -> web.Response:
    """404 naming the NPO: no config was ever stored for it."""
    return view.json({"error": f"unknown npo_id {npo_id!r}"}, status=404)


def change_source(request: web.Request) -> Literal["cli", "admin-api"]:
    """The CLI calls the admin API too and says so, so changes show where they came from."""
    return "cli" if request.headers.get("X-Change-Source") == "cli" else "admin-api"


async def json_body(request: web.Request) -> Any:
    """The body as JSON; ``JsonInputError`` when it is not UTF-8, not JSON or nested too deeply
    (a view answers 4xx). aiohttp answers 413 itself to a body over its 1 MiB limit."""
    return loads(await request.read())


async def model_body(request: web.Request, model: type[M], *, empty: M | None = None) -> M:
    """The body validated as ``model`` (``empty`` for a blank body, when given); ``ValueError``
    saying what is wrong otherwise, for the view's 422."""
    if empty is not None and not (await request.read()).strip():
        return empty
    try:
        return model.model_validate(await json_body(request))
    except JsonInputError as exc:
        raise ValueError(str(exc)) from None
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc)) from None

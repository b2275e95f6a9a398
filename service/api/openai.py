"""OpenAI-compatible routes: POST /v1/chat/completions and GET /v1/models. HTTP only.

Bodies are validated here rather than by FastAPI's dependency so that a bad request is a 400 (what
OpenAI clients expect), not the 422 the rest of the API uses.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from service.chat import ChatService
from service.errors import error_response
from service.openai_protocol import ChatCompletion, ChatCompletionRequest, ChatRequestError, ModelList
from service.protocol import error_responses

router = APIRouter(prefix="/v1", tags=["openai"])

_ERRORS = error_responses(
    {
        400: "Bad request: invalid body, unsupported parameter, broken schema, prompt too long.",
        404: "The model is not served here (see GET /v1/models).",
        413: "The body exceeds the size limit.",
        502: "The model failed to produce a valid answer.",
        503: "The model is not loaded yet.",
    }
)


class _ClosingStream(StreamingResponse):
    """Closes its event generator as soon as the response ends, a client disconnect included.

    Starlette leaves that to garbage collection, which can take seconds; closing it at once stops the
    generation at its next decode step and frees the model for the next request.
    """

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


def _chat(request: Request) -> ChatService:
    return request.app.state.chat


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={**_ERRORS, 200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(request: Request):
    """Chat completion in OpenAI's shape (body: `ChatCompletionRequest` in service/openai_protocol.py);
    `stream: true` answers with server-sent events ending `data: [DONE]`."""
    chat = _chat(request)
    try:
        body = ChatCompletionRequest.parse(await request.body())
        if body.stream:
            events = await chat.stream(body)
            headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            return _ClosingStream(events, media_type="text/event-stream", headers=headers)
        completion = await chat.complete(body)
    except ChatRequestError as error:
        return error_response(error.status, error.message, error.type, param=error.param, code=error.code)
    payload = completion.model_dump(mode="json", exclude_none=True)
    for choice in payload["choices"]:
        choice["message"].setdefault("content", None)  # OpenAI sends content: null beside tool calls
        choice["logprobs"] = None
    return JSONResponse(payload)


@router.get("/models", response_model=ModelList, responses=_ERRORS)
async def models(request: Request) -> ModelList:
    """The base model and every loaded LoRA adapter (`parent` names its base)."""
    return _chat(request).models()

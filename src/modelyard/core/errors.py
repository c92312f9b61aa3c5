"""Gateway errors: each carries the HTTP status and the envelope fields a client sees."""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """An error that ends a request with a status and an OpenAI/OpenRouter error envelope."""

    status: int = 500
    type: str = "server_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        param: str | None = None,
        code: str | int | None = None,
        type: str | None = None,
        metadata: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.param = param
        self.code = code
        self.metadata = metadata
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "code": self.code if self.code is not None else self.status,
        }
        if self.metadata:
            error["metadata"] = self.metadata
        return {"error": error}


class BadRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"


class ProviderError(GatewayError):
    """An upstream failed before the first byte reached the client (so a fallback may follow)."""

    status = 502
    type = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int = 502,
        raw: Any = None,
        provider_code: str | int | None = None,
        error_type: str = "provider_error",
        retryable: bool = True,
    ) -> None:
        metadata: dict[str, Any] = {"provider_name": provider, "error_type": error_type}
        if raw is not None:
            metadata["raw"] = raw
        if provider_code is not None:
            metadata["provider_code"] = provider_code
        super().__init__(message, status=status, metadata=metadata)
        self.provider = provider
        self.retryable = retryable


class NoEndpoint(GatewayError):
    """Nothing can serve the request; the message says why each endpoint was excluded."""

    status = 503
    type = "service_unavailable"

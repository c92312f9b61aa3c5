"""The account errors a client sees, in the OpenAI/OpenRouter envelope."""

from __future__ import annotations

from modelyard.core.errors import GatewayError


class PaymentRequired(GatewayError):
    status = 402
    type = "insufficient_credits"


class Forbidden(GatewayError):
    status = 403
    type = "permission_error"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_exceeded"


class AccountingUnavailable(GatewayError):
    status = 503
    type = "service_unavailable"

"""Stored responses and the Responses API's service: history for `previous_response_id`,
background runs and their cancellation. The HTTP handlers (api/responses.py) hold none of
this, so another surface (the WebSocket transport) shares it."""

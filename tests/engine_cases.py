"""Real-world JSON schemas and tool specs for the embedded model's constrained output.

Each schema case is (name, prompt, schema); each tool case is (prompt, function). Shapes
are the ones applications send: extraction, classification, forms, nested records, enums,
anyOf, $defs/$ref, nullable fields, formats, patterns, bounded arrays.
"""

from __future__ import annotations

from typing import Any

S = dict[str, Any]


def obj(properties: S, required: list[str] | None = None, **extra: Any) -> S:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        **extra,
    }


STR: S = {"type": "string"}
INT: S = {"type": "integer"}
NUM: S = {"type": "number"}
BOOL: S = {"type": "boolean"}


def arr(items: S, most: int = 3, least: int = 0) -> S:
    return {"type": "array", "items": items, "minItems": least, "maxItems": most}


def enum(*values: Any) -> S:
    return {"enum": list(values)}


SCHEMAS: list[tuple[str, str, S]] = [
    ("person", "Describe a fictional person.", obj({"name": STR, "age": INT})),
    (
        "address",
        "Give the address of the Eiffel Tower.",
        obj({"street": STR, "city": STR, "postal_code": STR, "country": STR}),
    ),
    (
        "sentiment",
        "Classify the sentiment of: 'I love this phone, the battery lasts forever.'",
        obj({"sentiment": enum("positive", "neutral", "negative"), "confidence": NUM}),
    ),
    (
        "entities",
        "Extract the named entities from: 'Marie Curie worked in Paris for the Sorbonne.'",
        obj({"entities": arr(obj({"text": STR, "type": enum("person", "place", "org")}))}),
    ),
    (
        "product",
        "Describe a product for an online shop.",
        obj(
            {
                "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                "title": STR,
                "price": {"type": "number", "minimum": 0},
                "in_stock": BOOL,
                "tags": arr(STR),
            }
        ),
    ),
    (
        "order",
        "Create an order with two line items.",
        obj(
            {
                "order_id": STR,
                "items": arr(
                    obj({"sku": STR, "quantity": {"type": "integer", "minimum": 1}}), 3, 1
                ),
                "currency": enum("USD", "EUR", "GBP"),
            }
        ),
    ),
    (
        "invoice_defs",
        "Write an invoice for a consulting job.",
        {
            "type": "object",
            "$defs": {
                "money": obj({"amount": NUM, "currency": enum("USD", "EUR")}),
                "line": obj({"description": STR, "total": {"$ref": "#/$defs/money"}}),
            },
            "properties": {
                "number": STR,
                "lines": arr({"$ref": "#/$defs/line"}, 2, 1),
                "total": {"$ref": "#/$defs/money"},
            },
            "required": ["number", "lines", "total"],
            "additionalProperties": False,
        },
    ),
    (
        "calendar_event",
        "Schedule a team meeting next Monday.",
        obj(
            {
                "title": STR,
                "date": {"type": "string", "format": "date"},
                "start_time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                "attendees": arr({"type": "string", "format": "email"}),
            }
        ),
    ),
    (
        "recipe",
        "Give a simple pancake recipe.",
        obj(
            {
                "name": STR,
                "servings": {"type": "integer", "minimum": 1, "maximum": 12},
                "ingredients": arr(obj({"item": STR, "amount": STR}), 4, 1),
                "steps": arr(STR, 3, 1),
            }
        ),
    ),
    (
        "movie_review",
        "Review the movie Inception.",
        obj(
            {
                "title": STR,
                "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                "summary": STR,
            }
        ),
    ),
    (
        "support_ticket",
        "Triage this ticket: 'I was charged twice for my subscription.'",
        obj(
            {
                "category": enum("billing", "technical", "account", "other"),
                "priority": enum("low", "medium", "high", "urgent"),
                "needs_human": BOOL,
            }
        ),
    ),
    (
        "user_profile_nested",
        "Create a user profile with preferences.",
        obj(
            {
                "username": {"type": "string", "pattern": "^[a-z0-9_]{3,16}$"},
                "preferences": obj(
                    {"theme": enum("light", "dark"), "language": STR, "notifications": BOOL}
                ),
            }
        ),
    ),
    (
        "geo_point",
        "Where is Tokyo?",
        obj(
            {
                "latitude": {"type": "number", "minimum": -90, "maximum": 90},
                "longitude": {"type": "number", "minimum": -180, "maximum": 180},
            }
        ),
    ),
    (
        "weather_report",
        "Report the weather in London.",
        obj(
            {
                "city": STR,
                "temperature_c": NUM,
                "conditions": enum("sunny", "cloudy", "rain", "snow"),
            }
        ),
    ),
    (
        "book",
        "Describe a classic novel.",
        obj(
            {
                "title": STR,
                "author": STR,
                "year": {"type": "integer", "minimum": 1000, "maximum": 2100},
                "isbn": {"type": ["string", "null"], "maxLength": 20},
            }
        ),
    ),
    (
        "job_posting",
        "Write a job posting for a backend engineer.",
        obj(
            {
                "title": STR,
                "remote": BOOL,
                "salary_range": obj({"min": INT, "max": INT}),
                "skills": arr(STR, 4, 1),
            }
        ),
    ),
    (
        "api_error",
        "Describe an HTTP error for a missing resource.",
        obj(
            {
                "status": {"type": "integer", "enum": [400, 401, 403, 404, 500]},
                "message": STR,
                "retryable": BOOL,
            }
        ),
    ),
    (
        "log_entry",
        "Write a log line for a failed login.",
        obj(
            {
                "timestamp": {"type": "string", "format": "date-time"},
                "level": enum("debug", "info", "warning", "error"),
                "message": STR,
            }
        ),
    ),
    (
        "bank_transaction",
        "Record a grocery purchase on a card.",
        obj(
            {
                "amount": NUM,
                "merchant": STR,
                "category": enum("groceries", "travel", "dining", "other"),
                "pending": BOOL,
            }
        ),
    ),
    (
        "flight_booking",
        "Book a flight from Paris to New York.",
        obj(
            {
                "from": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "to": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "passengers": {"type": "integer", "minimum": 1, "maximum": 9},
                "cabin": enum("economy", "premium", "business", "first"),
            }
        ),
    ),
    (
        "quiz_question",
        "Write a multiple-choice question about planets.",
        obj(
            {
                "question": STR,
                "options": arr(STR, 4, 4),
                "answer_index": {"type": "integer", "minimum": 0, "maximum": 3},
            }
        ),
    ),
    (
        "translation",
        "Translate 'good morning' into French.",
        obj({"source_language": STR, "target_language": STR, "text": STR}),
    ),
    (
        "summary_keywords",
        "Summarize: 'The city council approved a new park near the river.'",
        obj({"summary": STR, "keywords": arr(STR, 5, 1)}),
    ),
    (
        "todo_list",
        "Make a todo list for moving house.",
        obj({"todos": arr(obj({"task": STR, "done": BOOL}), 4, 1)}),
    ),
    (
        "github_issue",
        "File a bug report about a crash on startup.",
        obj(
            {
                "title": STR,
                "labels": arr(enum("bug", "enhancement", "question", "docs"), 3),
                "severity": {"anyOf": [enum("minor", "major", "critical"), {"type": "null"}]},
            }
        ),
    ),
    (
        "contact_card_anyof",
        "Give a contact for a plumber.",
        obj(
            {
                "name": STR,
                "contact": {
                    "anyOf": [
                        obj(
                            {
                                "kind": {"const": "phone"},
                                "number": {"type": "string", "pattern": "^\\+?[0-9]{7,12}$"},
                            }
                        ),
                        obj(
                            {
                                "kind": {"const": "email"},
                                "address": {"type": "string", "format": "email"},
                            }
                        ),
                    ]
                },
            }
        ),
    ),
    (
        "shape_oneof",
        "Describe a geometric shape.",
        obj(
            {
                "shape": {
                    "oneOf": [
                        obj({"type": {"const": "circle"}, "radius": NUM}),
                        obj({"type": {"const": "rectangle"}, "width": NUM, "height": NUM}),
                    ]
                }
            }
        ),
    ),
    (
        "nullable_fields",
        "Describe a customer whose phone number is unknown.",
        obj(
            {
                "name": STR,
                "phone": {"type": ["string", "null"], "maxLength": 20},
                "vip": {"type": ["boolean", "null"]},
            }
        ),
    ),
    (
        "optional_fields",
        "Describe a city.",
        obj({"name": STR, "population": INT, "nickname": STR}, required=["name"]),
    ),
    (
        "feature_flags",
        "Give the configuration of a web service.",
        obj(
            {
                "service": STR,
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                "flags": obj({"beta": BOOL, "dark_mode": BOOL, "telemetry": BOOL}),
            }
        ),
    ),
    (
        "comment_thread_defs",
        "Write a forum comment with one reply.",
        {
            "$defs": {
                "reply": obj({"author": STR, "text": STR}),
                "comment": obj(
                    {"author": STR, "text": STR, "replies": arr({"$ref": "#/$defs/reply"}, 2)}
                ),
            },
            "$ref": "#/$defs/comment",
        },
    ),
    (
        "measurement_units",
        "Give the height of Mount Everest.",
        obj({"value": NUM, "unit": enum("m", "ft"), "approximate": BOOL}),
    ),
    (
        "uuid_record",
        "Create a database record for a new user.",
        obj(
            {
                "id": {"type": "string", "format": "uuid"},
                "email": {"type": "string", "format": "email"},
                "created": {"type": "string", "format": "date"},
            }
        ),
    ),
]


def fn(name: str, description: str, parameters: S) -> S:
    return {"name": name, "description": description, "parameters": parameters}


TOOLS: list[tuple[str, S]] = [
    (
        "What's the weather in Paris?",
        fn(
            "get_weather",
            "Current weather for a city",
            obj({"city": STR, "unit": enum("celsius", "fahrenheit")}),
        ),
    ),
    (
        "What time is it in Tokyo?",
        fn("get_time", "Current time in an IANA timezone", obj({"timezone": STR})),
    ),
    (
        "Send an email to bob@example.com saying hi.",
        fn(
            "send_email",
            "Send an email",
            obj({"to": {"type": "string", "format": "email"}, "subject": STR, "body": STR}),
        ),
    ),
    (
        "Search the web for llama.cpp.",
        fn(
            "web_search",
            "Search the web",
            obj({"query": STR, "max_results": {"type": "integer", "minimum": 1, "maximum": 10}}),
        ),
    ),
    (
        "Convert 100 USD to EUR.",
        fn(
            "convert_currency",
            "Convert money between currencies",
            obj(
                {
                    "amount": NUM,
                    "from": {"type": "string", "pattern": "^[A-Z]{3}$"},
                    "to": {"type": "string", "pattern": "^[A-Z]{3}$"},
                }
            ),
        ),
    ),
    (
        "Book a table for 4 at 7pm.",
        fn(
            "book_table",
            "Reserve a restaurant table",
            obj(
                {
                    "party_size": {"type": "integer", "minimum": 1, "maximum": 20},
                    "time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                }
            ),
        ),
    ),
    (
        "Create a calendar event for lunch tomorrow.",
        fn(
            "create_event",
            "Create a calendar event",
            obj({"title": STR, "date": {"type": "string", "format": "date"}, "all_day": BOOL}),
        ),
    ),
    (
        "Turn off the kitchen lights.",
        fn(
            "set_light",
            "Switch a smart light",
            obj({"room": enum("kitchen", "bedroom", "living_room"), "on": BOOL}),
        ),
    ),
    ("Look up order 12345.", fn("get_order", "Fetch an order by id", obj({"order_id": STR}))),
    (
        "Add milk and eggs to my shopping list.",
        fn("add_items", "Add items to the shopping list", obj({"items": arr(STR, 5, 1)})),
    ),
    (
        "Run SELECT 1 on the database.",
        fn(
            "run_sql",
            "Run a read-only SQL query",
            obj(
                {
                    "query": {"type": "string", "maxLength": 80},
                    "timeout_s": {"type": ["integer", "null"]},
                }
            ),
        ),
    ),
    (
        "Create a GitHub issue about a typo.",
        fn(
            "create_issue",
            "Open an issue",
            obj({"repo": STR, "title": STR, "labels": arr(enum("bug", "docs", "enhancement"))}),
        ),
    ),
    (
        "Translate hello to Spanish.",
        fn(
            "translate",
            "Translate text",
            obj({"text": STR, "target": enum("es", "fr", "de", "it")}),
        ),
    ),
    (
        "Set a timer for 10 minutes.",
        fn(
            "set_timer",
            "Start a countdown timer",
            obj({"minutes": {"type": "integer", "minimum": 1, "maximum": 120}}),
        ),
    ),
    (
        "Get the stock price of Apple.",
        fn(
            "get_stock_price",
            "Latest price of a stock ticker",
            obj({"ticker": {"type": "string", "pattern": "^[A-Z]{1,5}$"}}),
        ),
    ),
    (
        "Play some jazz.",
        fn(
            "play_music",
            "Play music",
            obj(
                {
                    "genre": STR,
                    "shuffle": BOOL,
                    "volume": {"type": "number", "minimum": 0, "maximum": 1},
                }
            ),
        ),
    ),
    (
        "Find flights from SFO to JFK.",
        fn(
            "search_flights",
            "Find flights",
            {
                "type": "object",
                "$defs": {"airport": {"type": "string", "pattern": "^[A-Z]{3}$"}},
                "properties": {
                    "origin": {"$ref": "#/$defs/airport"},
                    "destination": {"$ref": "#/$defs/airport"},
                },
                "required": ["origin", "destination"],
                "additionalProperties": False,
            },
        ),
    ),
    (
        "Pay 20 dollars to Alice.",
        fn(
            "send_payment",
            "Send money",
            obj(
                {
                    "recipient": STR,
                    "amount": {"type": "number", "exclusiveMinimum": 0},
                    "method": {"anyOf": [enum("card", "bank"), {"type": "null"}]},
                }
            ),
        ),
    ),
    (
        "Refresh the dashboard.",
        fn("refresh_dashboard", "Reload the dashboard", {"type": "object", "properties": {}}),
    ),
    (
        "Get directions to the station on foot.",
        fn(
            "get_directions",
            "Route between two places",
            obj(
                {"destination": STR, "mode": enum("walking", "driving", "transit")},
                required=["destination"],
            ),
        ),
    ),
    (
        "Resize the image to 800 by 600.",
        fn(
            "resize_image",
            "Resize an image",
            obj({"size": obj({"width": INT, "height": INT}), "keep_aspect": BOOL}),
        ),
    ),
]

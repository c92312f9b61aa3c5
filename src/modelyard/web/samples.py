"""The API tab's sample code: curl, Python (openai SDK) and JavaScript, each aimed at this
gateway's own base URL and the model's id, so a reader can paste and run it."""

from __future__ import annotations

import json
from dataclasses import dataclass

PROMPT = "What is the meaning of life?"
KEY_VAR = "MODELYARD_API_KEY"


@dataclass(frozen=True, slots=True)
class Sample:
    id: str
    label: str
    language: str
    code: str


def _body(model: str, stream: bool) -> str:
    body: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        body["stream"] = True
    return json.dumps(body, indent=2)


def curl(base_url: str, model: str, stream: bool = False) -> str:
    body = _body(model, stream).replace("\n", "\n  ")
    return (
        f"curl {base_url}/chat/completions \\\n"
        '  -H "Content-Type: application/json" \\\n'
        f'  -H "Authorization: Bearer ${KEY_VAR}" \\\n'
        f"  -d '{body}'"
    )


def python(base_url: str, model: str, stream: bool = False) -> str:
    head = (
        "import os\n\n"
        "from openai import OpenAI\n\n"
        "client = OpenAI(\n"
        f'    base_url="{base_url}",\n'
        f'    api_key=os.environ.get("{KEY_VAR}", "unused-when-open"),\n'
        ")\n\n"
    )
    call = (
        "client.chat.completions.create(\n"
        "    extra_headers={\n"
        '        "HTTP-Referer": "https://example.com",  # optional: your site URL, for rankings\n'
        '        "X-Title": "My App",  # optional: your site name, for rankings\n'
        "    },\n"
        f'    model="{model}",\n'
        f'    messages=[{{"role": "user", "content": "{PROMPT}"}}],\n'
    )
    if stream:
        return (
            head
            + "stream = "
            + call
            + "    stream=True,\n)\n"
            + "for chunk in stream:\n"
            + "    if chunk.choices:\n"
            + '        print(chunk.choices[0].delta.content or "", end="", flush=True)\n'
        )
    return head + "completion = " + call + ")\nprint(completion.choices[0].message.content)\n"


def javascript(base_url: str, model: str, stream: bool = False) -> str:
    head = (
        'import OpenAI from "openai";\n\n'
        "const client = new OpenAI({\n"
        f'  baseURL: "{base_url}",\n'
        f'  apiKey: process.env.{KEY_VAR} ?? "unused-when-open",\n'
        "  defaultHeaders: {\n"
        '    "HTTP-Referer": "https://example.com", // optional: your site URL, for rankings\n'
        '    "X-Title": "My App", // optional: your site name, for rankings\n'
        "  },\n"
        "});\n\n"
    )
    call = (
        "await client.chat.completions.create({\n"
        f'  model: "{model}",\n'
        f'  messages: [{{ role: "user", content: "{PROMPT}" }}],\n'
    )
    if stream:
        return (
            head
            + "const stream = "
            + call
            + "  stream: true,\n});\n"
            + "for await (const chunk of stream) {\n"
            + '  process.stdout.write(chunk.choices[0]?.delta?.content ?? "");\n'
            + "}\n"
        )
    show = "console.log(completion.choices[0].message.content);\n"
    return head + "const completion = " + call + "});\n" + show


def javascript_fetch(base_url: str, model: str) -> str:
    body = _body(model, False).replace("\n", "\n  ")
    return (
        f'const response = await fetch("{base_url}/chat/completions", {{\n'
        '  method: "POST",\n'
        "  headers: {\n"
        f"    Authorization: `Bearer ${{process.env.{KEY_VAR}}}`,\n"
        '    "Content-Type": "application/json",\n'
        "  },\n"
        f"  body: JSON.stringify({body}),\n"
        "});\n"
        "const completion = await response.json();\n"
        "console.log(completion.choices[0].message.content);\n"
    )


def samples(base_url: str, model: str) -> list[Sample]:
    return [
        Sample("python", "Python (openai SDK)", "python", python(base_url, model)),
        Sample("javascript", "JavaScript (openai SDK)", "javascript", javascript(base_url, model)),
        Sample("fetch", "JavaScript (fetch)", "javascript", javascript_fetch(base_url, model)),
        Sample("curl", "curl", "shell", curl(base_url, model)),
    ]


def streaming_samples(base_url: str, model: str) -> list[Sample]:
    return [
        Sample("python-stream", "Python (openai SDK)", "python", python(base_url, model, True)),
        Sample(
            "javascript-stream",
            "JavaScript (openai SDK)",
            "javascript",
            javascript(base_url, model, True),
        ),
        Sample("curl-stream", "curl", "shell", curl(base_url, model, True)),
    ]

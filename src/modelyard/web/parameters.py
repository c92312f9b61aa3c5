"""What each request parameter means, for the API tab's table (OpenRouter's wording where the
seeds quote it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: str
    default: str
    description: str


_TABLE = [
    Parameter(
        "reasoning",
        "map",
        "—",
        "Controls reasoning behavior for models that support thinking tokens, including whether "
        "reasoning is enabled, the reasoning effort, maximum reasoning tokens, and whether "
        "reasoning is excluded from the response.",
    ),
    Parameter(
        "include_reasoning",
        "boolean",
        "—",
        "Whether to return the model's reasoning in the response (legacy form of "
        "reasoning.exclude).",
    ),
    Parameter(
        "response_format",
        "map",
        "—",
        "Forces the model to produce specific output format.",
    ),
    Parameter(
        "structured_outputs",
        "boolean",
        "—",
        "The model can return output that follows a JSON schema given in response_format.",
    ),
    Parameter(
        "seed",
        "integer",
        "—",
        "If specified, the inferencing will sample deterministically, such that repeated "
        "requests with the same seed and parameters should return the same result.",
    ),
    Parameter(
        "max_tokens",
        "integer",
        "—",
        "This sets the upper limit for the number of tokens the model can generate in response.",
    ),
    Parameter(
        "tools",
        "array",
        "—",
        "Tool calling parameter, following OpenAI's tool calling request shape.",
    ),
    Parameter(
        "tool_choice",
        "string or object",
        "—",
        "Controls which (if any) tool is called by the model.",
    ),
    Parameter(
        "temperature",
        "float",
        "1.0",
        "Influences the variety in the model's responses. Lower values lead to more predictable "
        "responses; higher values encourage more diverse ones. At 0 the model always gives the "
        "same response for a given input.",
    ),
    Parameter(
        "top_p",
        "float",
        "1.0",
        "Limits the model's choices to a percentage of likely tokens: only the top tokens whose "
        "probabilities add up to P.",
    ),
    Parameter(
        "top_k",
        "integer",
        "0",
        "Limits the model's choice of tokens at each step to the K most likely. 0 disables it.",
    ),
    Parameter(
        "min_p",
        "float",
        "0.0",
        "The minimum probability for a token to be considered, relative to the probability of "
        "the most likely token.",
    ),
    Parameter(
        "stop",
        "array",
        "—",
        "Stop generation immediately if the model encounters any token specified in the array.",
    ),
    Parameter(
        "frequency_penalty",
        "float",
        "0.0",
        "Controls the repetition of tokens based on how often they appear in the input. Higher "
        "values make frequent tokens less likely.",
    ),
    Parameter(
        "presence_penalty",
        "float",
        "0.0",
        "Adjusts how often the model repeats specific tokens already used in the input, "
        "whatever their frequency.",
    ),
    Parameter(
        "repetition_penalty",
        "float",
        "1.0",
        "Helps to reduce the repetition of tokens from the input. Higher values make the model "
        "less likely to repeat tokens.",
    ),
    Parameter(
        "logit_bias",
        "map",
        "—",
        "Maps token ids to a bias from -100 to 100 that is added to the logits before sampling.",
    ),
    Parameter(
        "logprobs",
        "boolean",
        "—",
        "Whether to return log probabilities of the output tokens.",
    ),
    Parameter(
        "top_logprobs",
        "integer",
        "—",
        "How many most likely tokens to return at each position, with their log probabilities "
        "(requires logprobs).",
    ),
]

PARAMETERS: dict[str, Parameter] = {p.name: p for p in _TABLE}


def describe(names: list[str]) -> list[Parameter]:
    """The model's parameters in its own order; one we have no words for still gets a row."""
    return [PARAMETERS.get(n) or Parameter(n, "—", "—", "") for n in names]

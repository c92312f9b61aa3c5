"""`modelyard serve | models | keys`: the command line."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys

from modelyard.config import ConfigError, Settings, load_settings

logger = logging.getLogger("modelyard")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _banner(settings: Settings) -> str:
    from modelyard.gateway.gateway import Gateway

    gateway = Gateway(settings)
    host = settings.host if settings.host not in {"0.0.0.0", "::"} else "127.0.0.1"
    base = f"http://{host}:{settings.port}/api/v1"
    served = gateway.served_models()
    example = served[0] if served else "huggingfacetb/smollm2-135m-instruct"
    auth = ' -H "Authorization: Bearer $MODELYARD_API_KEY"' if settings.api_keys else ""
    lines = [
        f"modelyard is serving at {base} (OpenAI base URL: http://{host}:{settings.port}/v1)",
        "models served:",
        *[f"  {m}" for m in served],
        "try:",
        f"  curl {base}/chat/completions{auth} -H 'Content-Type: application/json' "
        f'-d \'{{"model":"{example}","messages":[{{"role":"user","content":"Hi"}}]}}\'',
    ]
    return "\n".join(lines)


def serve(args: argparse.Namespace) -> int:
    # Workers are separate processes that build their settings from the environment.
    if args.config:
        os.environ["MODELYARD_CONFIG"] = os.path.abspath(args.config)
    if args.host:
        os.environ["MODELYARD_HOST"] = args.host
    if args.port is not None:
        os.environ["MODELYARD_PORT"] = str(args.port)
    if args.insecure_no_auth:
        os.environ["MODELYARD_INSECURE_NO_AUTH"] = "1"
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"modelyard: {exc}", file=sys.stderr)
        return 2
    workers = args.workers or settings.workers
    keyed = settings.api_keys or settings.admin_key
    if not keyed and not is_loopback(settings.host) and not settings.insecure_no_auth:
        print(
            f"modelyard: refusing to serve on {settings.host} with no API keys: anyone on the "
            "network could use it. Set MODELYARD_API_KEYS, or pass --insecure-no-auth.",
            file=sys.stderr,
        )
        return 2
    level = settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(_banner(settings), flush=True)

    import uvicorn

    uvicorn.run(
        "modelyard.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        log_level=settings.log_level.lower(),
        access_log=args.access_log,
        server_header=False,  # no "server: uvicorn" on every response
        timeout_graceful_shutdown=5,
    )
    return 0


def models(args: argparse.Namespace) -> int:
    from modelyard.gateway.gateway import Gateway

    gateway = Gateway(load_settings(args.config))
    for model in gateway.catalog:
        providers = ", ".join(
            e.provider + ("" if e.provider in gateway.enabled else " (off)")
            for e in model.endpoints
        )
        print(f"{model.id:45} {model.context_length:>8}  {providers}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="modelyard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the gateway")
    p_serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p_serve.add_argument("--port", type=int, help="port (default 8080)")
    p_serve.add_argument("--config", help="TOML config file")
    p_serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    p_serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve a non-loopback address without API keys",
    )
    p_serve.add_argument("--access-log", action="store_true", help="log every request")
    p_serve.set_defaults(func=serve)
    p_models = sub.add_parser("models", help="list the catalog and which providers serve it")
    p_models.add_argument("--config", help="TOML config file")
    p_models.set_defaults(func=models)
    from modelyard.keys_cli import add_parser as add_keys_parser

    add_keys_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

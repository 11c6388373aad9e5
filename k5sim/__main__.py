"""`python -m k5sim`: run the simulator. The first stdout line is the identity (auth) URL."""

from __future__ import annotations

import argparse
import signal
import sys

from . import scenario
from .server import App, make_server


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m k5sim", description="K5 (FUJITSU Cloud Service for OSS) simulator"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8774, help="port (0 picks a free one)")
    parser.add_argument(
        "--scenario", metavar="FILE.json", help="scenario file replacing the built-in demo"
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="make every K5 duration N times shorter (default 1)",
    )
    parser.add_argument(
        "--glance-release",
        choices=scenario.GLANCE_RELEASES,
        default="legacy",
        help="the image API of a pre-Mitaka Glance (legacy, the default: no filter operators) "
        "or of Glance >= 12 (mitaka, or its alias modern: time operators, and name=op:value); "
        "a scenario's glance_release wins",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-request log on stderr")
    args = parser.parse_args(argv)

    try:
        chosen = scenario.load_file(args.scenario) if args.scenario else scenario.demo()
    except scenario.ScenarioError as error:
        print(f"k5sim: invalid scenario: {error}", file=sys.stderr)
        return 2
    app = App(chosen, args.speed, quiet=args.quiet, glance_release=args.glance_release)
    try:
        server = make_server(app, args.host, args.port)
    except OSError as error:
        print(
            f"k5sim: cannot listen on {args.host}:{args.port}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 1
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"http://{shown}:{port}/identity/v3", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m tunelog.simulator [--port 8787] [--host 127.0.0.1] [--speed 1] [--seed 0]``."""

from __future__ import annotations

import argparse

from tunelog.simulator.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tunelog.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any key)")
    args = parser.parse_args(argv)
    serve(port=args.port, host=args.host, speed=args.speed, seed=args.seed, api_key=args.api_key)


if __name__ == "__main__":
    main()

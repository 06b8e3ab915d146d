"""Run the simulated legacy call center (SOAP 1.1, XML over HTTP) until Ctrl+C.

    python examples/run_callcenter.py --port 8091 --latency-ms 150 --failure-rate 0.1

It knows callers by phone number only, as the real one does; try the printed curl lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from urllib.parse import quote

from kefu.demo_systems.callcenter import PLAIN_PATH, SOAP_PATH, running_callcenter
from kefu.demo_systems.dataset import DEFAULT_CUSTOMERS, DEFAULT_SEED, build_dataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the defaults give a fast, reliable call center on 8091."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per answer")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="+/- around the delay")
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="share of answers that are faults"
    )
    parser.add_argument("--seed", type=int, default=None, help="repeat latency and faults")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--dataset-seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--quiet", action="store_true", help="no access log")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    """Serve until interrupted, after printing how to ask for the first customer's calls."""
    dataset = build_dataset(args.customers, seed=args.dataset_seed)
    phone = dataset.customers[0].phone
    async with running_callcenter(
        args.host,
        args.port,
        dataset=dataset,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        failure_rate=args.failure_rate,
        seed=args.seed,
        access_log=not args.quiet,
    ) as url:
        envelope = (
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            f'<GetCallHistory xmlns="urn:kefu-demo:callcenter"><Phone>{phone}</Phone>'
            "</GetCallHistory></soap:Body></soap:Envelope>"
        )
        print(f"Call center on {url} ({len(dataset.calls)} calls). Ctrl+C stops it.")
        print(f"  curl '{url}{PLAIN_PATH}?phone={quote(phone)}'")
        print(f"  curl -H 'Content-Type: text/xml' -d '{envelope}' {url}{SOAP_PATH}")
        await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parse_args()))

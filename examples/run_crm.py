"""Run the simulated marketing CRM (REST/JSON) until Ctrl+C.

    python examples/run_crm.py --port 8092 --latency-ms 80 --failure-rate 0.05

The same records `seed_mongo_crm.py` loads into MongoDB, behind a small JSON API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from urllib.parse import quote

from kefu.demo_systems.crm import CUSTOMERS_PATH, running_crm
from kefu.demo_systems.dataset import DEFAULT_CUSTOMERS, DEFAULT_SEED, build_dataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the defaults give a fast, reliable CRM on 8092."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per answer")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="+/- around the delay")
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="share of answers that are 500s"
    )
    parser.add_argument("--seed", type=int, default=None, help="repeat latency and failures")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--dataset-seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--quiet", action="store_true", help="no access log")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    """Serve until interrupted, after printing a few requests to try."""
    dataset = build_dataset(args.customers, seed=args.dataset_seed)
    first = dataset.customers[0]
    async with running_crm(
        args.host,
        args.port,
        dataset=dataset,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        failure_rate=args.failure_rate,
        seed=args.seed,
        access_log=not args.quiet,
    ) as url:
        print(f"CRM on {url} ({len(dataset.customers)} customers). Ctrl+C stops it.")
        print(f"  curl {url}{CUSTOMERS_PATH}/{first.customer_key}")
        print(f"  curl '{url}{CUSTOMERS_PATH}?email={quote(first.email)}'")
        print(f"  curl '{url}{CUSTOMERS_PATH}?phone={quote(first.phone)}'")
        await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parse_args()))

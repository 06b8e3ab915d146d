"""Create the demo order tables in any SQL database and load the demo orders into them.

    python examples/seed_orders.py --url mysql+asyncmy://root@127.0.0.1:3306/test
    python examples/seed_orders.py --url sqlite+aiosqlite:///demo-orders.db

Existing demo_orders / demo_order_lines tables at that URL are dropped first.
"""

from __future__ import annotations

import argparse
import asyncio

from kefu.demo_systems.dataset import DEFAULT_CUSTOMERS, DEFAULT_SEED, build_dataset
from kefu.demo_systems.orders import seed_orders


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the URL is required because the tables there are replaced."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy async URL")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--dataset-seed", type=int, default=DEFAULT_SEED)
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    """Seed and report how many orders and lines were written."""
    dataset = build_dataset(args.customers, seed=args.dataset_seed)
    count = await seed_orders(args.url, dataset)
    lines = sum(len(order.lines) for order in dataset.orders)
    print(f"Loaded {count} orders ({lines} lines) for {len(dataset.customers)} customers")


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

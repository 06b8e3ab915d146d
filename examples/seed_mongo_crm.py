"""Load the demo CRM customers into MongoDB (or SecantusDB), replacing what was there.

python examples/seed_mongo_crm.py --url "mongodb://127.0.0.1:27117/?directConnection=true"
"""

from __future__ import annotations

import argparse
import asyncio

from kefu.demo_systems.crm import seed_mongo
from kefu.demo_systems.dataset import DEFAULT_CUSTOMERS, DEFAULT_SEED, build_dataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the default URL is the test SecantusDB of make test."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mongodb://127.0.0.1:27117/?directConnection=true")
    parser.add_argument("--database", default="kefu_demo_crm")
    parser.add_argument("--collection", default="customers")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--dataset-seed", type=int, default=DEFAULT_SEED)
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    """Seed and say where the documents went."""
    dataset = build_dataset(args.customers, seed=args.dataset_seed)
    count = await seed_mongo(args.url, args.database, dataset, collection=args.collection)
    print(f"Loaded {count} customers into {args.database}.{args.collection} at {args.url}")


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

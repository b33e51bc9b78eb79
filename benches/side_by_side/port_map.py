#!/usr/bin/env python3
"""Maps raw items through Port's own entity processor, as Port's integration does on a resync.

Usage: port_map.py MAPPING.yaml KIND ITEMS.json

Runs `JQEntityProcessor._parse_items` of the installed `port-ocean` package over every item
(the processor Port's Azure DevOps integration runs, with its own process pool), for each
resource of KIND in the mapping, and prints one JSON line: items, entities, seconds spent
in the processor. Only what the processor needs from a running integration is stood in for:
its settings (Port's defaults, `$ENV` access off, as adoport's default) and a Port client
that knows no blueprint (used only to rate mapping problems).
"""

import asyncio
import json
import os
import sys
import time
from types import SimpleNamespace

import yaml

from port_ocean.core.handlers.entity_processor import jq_entity_processor as processor
from port_ocean.core.handlers.port_app_config.models import ResourceConfig


class NoBlueprints:
    async def get_blueprint(self, *_args, **_kwargs):
        raise LookupError("no Port API in this benchmark")


def stand_in_for_ocean():
    config = SimpleNamespace(
        allow_environment_variables_jq_access=False,
        yield_items_to_parse_batch_size=200,
        # Port's default (120 s) is per queued item: with 100,000 items queued at once, those
        # at the back time out before a worker takes them, and the run fails. A long
        # timeout measures the processor, not the queue.
        process_in_queue_timeout=3600,
        process_in_queue_max_workers=os.cpu_count() or 1,
    )
    ocean = SimpleNamespace(config=config, port_client=NoBlueprints())
    for name in list(sys.modules):
        module = sys.modules[name]
        if name.startswith("port_ocean.core.handlers.entity_processor") and hasattr(module, "ocean"):
            module.ocean = ocean
    return ocean


async def main(mapping_path, kind, items_path):
    ocean = stand_in_for_ocean()
    with open(mapping_path) as f:
        resources = [r for r in yaml.safe_load(f)["resources"] if r["kind"] == kind]
    with open(items_path) as f:
        items = json.load(f)
    entity_processor = processor.JQEntityProcessor(None)
    ocean.app = SimpleNamespace(integration=SimpleNamespace(entity_processor=entity_processor))
    started = time.perf_counter()
    entities = 0
    for resource in resources:
        result = await entity_processor._parse_items(ResourceConfig.parse_obj(resource), items)
        entities += len(result.entity_selector_diff.passed)
    elapsed = time.perf_counter() - started
    print(json.dumps({"items": len(items), "entities": entities, "seconds": round(elapsed, 3)}))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))

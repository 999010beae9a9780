"""The event source mapping as template.yaml deploys it, for the pipeline simulation
(tests/support/simulation): an independent judge of the template's own filter.

Prints one JSON line with the mapping's settings (each parameter resolved to its default), then
answers each line read from stdin (a JSON array of stream records) with a JSON array of booleans:
which records the template's FilterCriteria keep, as moto's implementation of AWS's event pattern
rules (moto.events.models.EventPattern) evaluates them, not a matcher of ours.
"""

import json
import sys
from pathlib import Path

from moto.events.models import EventPattern
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent


def resolved(value, parameters):
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]["Default"]
    return value


def main():
    template = yaml_parse((ROOT / "template.yaml").read_text())
    (event,) = template["Resources"]["ArchiverFunction"]["Properties"]["Events"].values()
    mapping = event["Properties"]
    parameters = template["Parameters"]
    settings = {name: resolved(value, parameters) for name, value in mapping.items()
                if name not in ("Stream", "FilterCriteria", "DestinationConfig", "MetricsConfig")}
    patterns = [EventPattern.load(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    print(json.dumps({"settings": settings, "timeout": template["Resources"]["ArchiverFunction"]["Properties"].get("Timeout")}), flush=True)
    for line in sys.stdin:
        records = json.loads(line)
        # Lambda keeps a record when any filter matches it.
        print(json.dumps([any(p.matches_event(r) for p in patterns) for r in records]), flush=True)


if __name__ == "__main__":
    main()

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


def resolved(value, template):
    """`value` with each parameter at its default and each Fn::If decided (the conditions the
    mapping uses are made of Ref, Equals, Not, And, Or and Condition)."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((function, argument),) = value.items()
    if function == "Ref":
        return template["Parameters"][argument]["Default"]
    if function == "Fn::If":
        name, yes, no = argument
        return resolved(yes if condition(name, template) else no, template)
    return value


def condition(name, template):
    def decide(expression):
        ((function, argument),) = expression.items()
        if function == "Fn::Equals":
            return str(resolved(argument[0], template)) == str(resolved(argument[1], template))
        if function == "Fn::Not":
            return not decide(argument[0])
        if function == "Fn::And":
            return all(decide(e) for e in argument)
        if function == "Fn::Or":
            return any(decide(e) for e in argument)
        if function == "Condition":
            return condition(argument, template)
        raise ValueError(f"{function} in condition {name}")

    return decide(template["Conditions"][name])


def main():
    template = yaml_parse((ROOT / "template.yaml").read_text())
    (event,) = template["Resources"]["ArchiverFunction"]["Properties"]["Events"].values()
    mapping = event["Properties"]
    settings = {name: resolved(value, template) for name, value in mapping.items()
                if name not in ("Stream", "FilterCriteria", "DestinationConfig", "MetricsConfig")}
    filters = resolved(mapping["FilterCriteria"]["Filters"], template)
    patterns = [EventPattern.load(f["Pattern"]) for f in filters]
    print(json.dumps({"settings": settings, "timeout": template["Resources"]["ArchiverFunction"]["Properties"].get("Timeout")}), flush=True)
    for line in sys.stdin:
        records = json.loads(line)
        # Lambda keeps a record when any filter matches it.
        print(json.dumps([any(p.matches_event(r) for p in patterns) for r in records]), flush=True)


if __name__ == "__main__":
    main()

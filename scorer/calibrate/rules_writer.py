"""Write the proposed rules file by editing the user's own file, not regenerating it.

Only the `points:` values of rules, the `version:` value and comment lines change, and
new rules are appended at the end of their list, so ids, labels, caps, decay, scenarios,
comments and layout stay as the user wrote them. Every changed, unsupported or kept rule
gets a `# calibrate:` comment line above it with its evidence. The result is validated
with the rules loader before anyone sees it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from scorer.calibrate.points import NOT_SUPPORTED, REVERSED, TOO_LITTLE, Proposal, RuleDecision
from scorer.rules import parse_rules


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int  # character offsets into the text; start == end inserts
    end: int
    text: str


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                found: yaml.Node = value_node
                return found
    return None


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _last_index(node: yaml.Node) -> int:
    """End offset of the last content inside `node` (block nodes end where the next token
    starts, which can be lines later)."""
    if isinstance(node, yaml.ScalarNode):
        return int(node.end_mark.index)
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        if node.flow_style:
            return int(node.end_mark.index)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                children += [k, v]
        else:
            children = list(node.value)
        return max((_last_index(c) for c in children), default=int(node.start_mark.index))
    return int(node.end_mark.index)


def _fmt(points: float) -> str:
    return str(int(points)) if float(points).is_integer() else f"{points:g}"


def decision_comment(decision: RuleDecision) -> str:
    old, new = _fmt(decision.old_points), _fmt(decision.new_points)
    if decision.verdict == TOO_LITTLE:
        return f"calibrate: kept at {old}, too little data: {decision.evidence}"
    if decision.verdict == NOT_SUPPORTED:
        return (
            f"calibrate: NOT SUPPORTED by the data, points {old} -> 0 (delete the rule, or "
            f"keep it at 0 to keep watching it): {decision.evidence}"
        )
    if decision.verdict == REVERSED:
        return f"calibrate: the data says the opposite, points {old} -> {new}: {decision.evidence}"
    return f"calibrate: points {old} -> {new}: {decision.evidence}"


def _comment_lines(indent: int, text: str) -> str:
    return f"{' ' * indent}# {text}\n"


def _rule_edits(
    text: str, sequence: yaml.Node, decisions: Mapping[str, RuleDecision]
) -> list[_Edit]:
    edits: list[_Edit] = []
    if not isinstance(sequence, yaml.SequenceNode):
        return edits
    for item in sequence.value:
        id_node = _child(item, "id")
        points_node = _child(item, "points")
        if id_node is None or points_node is None:
            continue
        decision = decisions.get(str(id_node.value))
        if decision is None:
            continue
        line = _line_start(text, int(item.start_mark.index))
        indent = int(sequence.start_mark.column)
        edits.append(_Edit(line, line, _comment_lines(indent, decision_comment(decision))))
        if decision.new_points != decision.old_points:
            start, end = int(points_node.start_mark.index), int(points_node.end_mark.index)
            edits.append(_Edit(start, end, _fmt(decision.new_points)))
    return edits


def _append_rules(
    text: str, sequence: yaml.Node, rules: Sequence[dict[str, object]], comments: Sequence[str]
) -> list[_Edit]:
    if not rules or not isinstance(sequence, yaml.SequenceNode) or not sequence.value:
        return []
    indent = " " * int(sequence.start_mark.column)
    end = _last_index(sequence.value[-1])
    newline = text.find("\n", end)
    at = len(text) if newline < 0 else newline + 1
    block = "" if newline >= 0 else "\n"
    for rule, comment in zip(rules, comments, strict=True):
        dumped = yaml.safe_dump(
            [rule], allow_unicode=True, sort_keys=False, default_flow_style=None, width=100
        )
        block += f"{indent}# {comment}\n"
        block += "".join(f"{indent}{line}\n" for line in dumped.splitlines())
    return [_Edit(at, at, block)]


def proposed_text(
    original: str,
    proposal: Proposal,
    version: str,
    header: Sequence[str],
    threshold_comments: Mapping[str, str] | None = None,
    source: str = "<proposed>",
) -> str:
    root = yaml.compose(original, Loader=yaml.SafeLoader)
    edits: list[_Edit] = []
    decisions = {d.rule_id: d for d in proposal.decisions}
    unplaced: list[dict[str, object]] = []
    for section in ("fit", "engagement"):
        sequence = _child(_child(root, section), "rules")
        added = [n for n in proposal.added if n.section == section]
        specs: list[dict[str, object]] = [
            {"id": n.rule_id, "label": n.label, "points": n.points, **n.spec} for n in added
        ]
        if not isinstance(sequence, yaml.SequenceNode) or not sequence.value:
            # No list item to append after (no rules yet, or `rules: []`): the user adds
            # them by hand, from the header.
            unplaced += specs
            continue
        edits += _rule_edits(original, sequence, decisions)
        edits += _append_rules(
            original,
            sequence,
            specs,
            [f"calibrate: NEW rule the data supports: {n.evidence}" for n in added],
        )
    version_node = _child(root, "version")
    if version_node is not None:
        edits.append(
            _Edit(
                int(version_node.start_mark.index),
                int(version_node.end_mark.index),
                '"' + version.replace('"', "") + '"',
            )
        )
    thresholds = _child(root, "thresholds")
    if threshold_comments and isinstance(thresholds, yaml.SequenceNode):
        for item in thresholds.value:
            name = _child(item, "name")
            if name is not None and str(name.value) in threshold_comments:
                line = _line_start(original, int(item.start_mark.index))
                comment = threshold_comments[str(name.value)]
                edits.append(
                    _Edit(line, line, _comment_lines(int(thresholds.start_mark.column), comment))
                )
    text = original
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    if unplaced:
        dumped = yaml.safe_dump(unplaced, allow_unicode=True, sort_keys=False)
        header = [
            *header,
            "New rules the data supports, for a list this file does not have yet (add by hand):",
            *dumped.splitlines(),
        ]
    text = "".join(f"# {line}\n" for line in header) + text
    parse_rules(text, source)  # raises RulesError: never hand out a file that does not load
    return text

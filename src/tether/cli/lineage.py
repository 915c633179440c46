"""``tether lineage``: print where a model, dataset version or run came from,
or with ``--downstream`` what depends on it."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.tree import Tree

from tether.cli.render import check_format, console, format_number, print_json

MAX_VALUE_CHARS = 60
MAX_WINDOWS = 12
"""Windows of one monitor that the tree prints; JSON output has every window."""


def lineage_command(
    uri: str = typer.Argument(
        ...,
        help="models:/NAME@ALIAS, models:/NAME/VERSION, datasets:/NAME@VERSION or runs:/RUN_ID.",
    ),
    output: str = typer.Option("tree", "--format", help="tree or json."),
    downstream: bool = typer.Option(
        False,
        "--downstream",
        help="Print what depends on URI: the data versions, runs and model "
        "versions made from it, and the deployments and monitors that use them.",
    ),
) -> None:
    """Print the upstream lineage tree of a model version, dataset version or run.

    With --downstream, print the tree of what depends on it instead.
    """
    from tether.lineage.resolve import downstream_of, upstream_of

    check_format(output, ["tree", "json"])
    node = downstream_of(uri) if downstream else upstream_of(uri)
    if output == "json":
        print_json(node.to_dict())
        return
    renderer = TreeRenderer()
    tree = Tree(renderer.label(node))
    renderer.add_children(tree, node)
    console.print(tree)


class TreeRenderer:
    """Render lineage nodes; code and environment print once until they change."""

    def __init__(self) -> None:
        self.printed_sources: set[tuple[Any, ...]] = set()

    def add_children(self, tree: Tree, node: Any) -> None:
        windows = [child for child in node.children if child.kind == "monitor_window"]
        hidden = windows[MAX_WINDOWS:]
        hidden_ids = {id(child) for child in hidden}
        for child in node.children:
            if id(child) in hidden_ids:
                continue
            branch = tree.add(self.label(child))
            self.add_children(branch, child)
        if hidden:
            tree.add(
                f"[dim]… {len(hidden)} more windows, up to {escape(hidden[-1].label)} "
                "(--format json lists them all)[/]"
            )

    def label(self, node: Any) -> str:
        relation = f"[dim]{node.relation}:[/] " if node.relation else ""
        if node.repeated:
            return f"{relation}{escape(node.label)} [dim](shown above)[/]"
        lines = [f"{relation}[bold]{escape(node.label)}[/]"]
        lines.extend(
            f"  [dim]{key}[/] {escape(value)}" for key, value in self.facts(node)
        )
        return "\n".join(lines)

    def facts(self, node: Any) -> list[tuple[str, str]]:
        d = node.details
        if node.kind == "model_version":
            return [
                ("aliases", ", ".join(d["aliases"]) or "-"),
                ("metrics", _compact(d["metrics"])),
                ("artifact", d["artifact_digest"]),
                ("training run", str(d["training_run_id"])),
            ]
        if node.kind == "dataset_version":
            return [
                ("digest", d["digest"]),
                ("rows", str(d["rows"])),
                ("source", _compact(d["source"])),
            ]
        if node.kind == "run":
            return self.run_facts(d)
        if node.kind in ("deployment", "monitor", "monitor_window"):
            return serving_facts(node.kind, d)
        facts = [("digest", d["digest"])]
        if "media_type" in d:
            facts.append(("type", d["media_type"]))
        return facts

    def run_facts(self, d: dict[str, Any]) -> list[tuple[str, str]]:
        status = d["status"]
        if d["cached_from"]:
            status += f", cached from {d['cached_from']}"
        facts = [("status", status)]
        if d["params"]:
            facts.append(("params", _compact(d["params"])))
        if d["metrics"]:
            facts.append(("metrics", _compact(d["metrics"])))

        git, env = d["git"], d["environment"]
        key = (
            git.get("commit"),
            git.get("dirty"),
            env.get("packages_digest"),
            d["entry_point"],
        )
        if key in self.printed_sources:
            facts.append(("code", "same commit and environment as above"))
            return facts
        self.printed_sources.add(key)
        return facts + source_facts(d)


def source_facts(d: dict[str, Any]) -> list[tuple[str, str]]:
    """Describe the commit, diff, entry point and environment of a run node."""
    git, env = d["git"], d["environment"]
    commit = git.get("commit") or f"none ({git.get('error')})"
    branch = git.get("branch") or "-"
    facts = [("commit", f"{commit}  branch {branch}  dirty {git.get('dirty')}")]
    diff = d["source_artifacts"].get("code/diff.patch")
    if diff:
        facts.append(("diff", f"uncommitted changes stored as {diff[:16]}"))
    facts.append(("entry point", str(d["entry_point"])))
    ci = d.get("ci")
    if ci:
        job = f"{ci.get('provider')} job {ci.get('job_id') or '-'}"
        trigger = f"{ci.get('trigger') or '-'} on {ci.get('ref') or '-'}"
        facts.append(("ci", f"{job}, {trigger}  {ci.get('run_url') or ''}".rstrip()))
    packages = f"{env.get('package_count')} packages"
    digest = str(env.get("packages_digest"))[:12]
    facts.append(
        ("environment", f"Python {env.get('python')}, {packages} (digest {digest})")
    )
    return facts


def serving_facts(kind: str, d: dict[str, Any]) -> list[tuple[str, str]]:
    """Describe a deployment, a monitor or a monitor's window."""
    if kind == "deployment":
        return [
            ("status", f"{d['status']} on {d['address']}"),
            ("routing", _routing_text(d["routing"])),
        ]
    if kind == "monitor":
        version = "every version" if d["version"] is None else f"version {d['version']}"
        return [
            ("model", f"{d['model']}, {version}, every {d['every']}"),
            ("reference", str(d["reference"])),
        ]
    return [("rows", str(d["rows"])), ("from", f"{d['start']} to {d['end']}")]


def _routing_text(routing: dict[str, Any]) -> str:
    if not routing:
        return "-"
    traffic = int(routing.get("traffic") or 0)
    parts = [f"primary {routing['primary']['uri']} {100 - traffic}%"]
    if routing.get("canary"):
        parts.append(f"canary {routing['canary']['uri']} {traffic}%")
    if routing.get("shadow"):
        parts.append(f"shadow {routing['shadow']['uri']}")
    return ", ".join(parts)


def _compact(mapping: dict[str, Any]) -> str:
    parts = []
    for key, value in sorted(mapping.items()):
        text = format_number(value) if isinstance(value, float) else str(value)
        if len(text) > MAX_VALUE_CHARS:
            text = text[: MAX_VALUE_CHARS - 1] + "…"
        parts.append(f"{key}={text}")
    return ", ".join(parts)

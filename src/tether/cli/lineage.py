"""``tether lineage``: print where a model, dataset version or run came from."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.tree import Tree

from tether.cli.render import check_format, console, print_json

MAX_VALUE_CHARS = 60


def lineage_command(
    uri: str = typer.Argument(
        ...,
        help="models:/NAME@ALIAS, models:/NAME/VERSION, datasets:/NAME@VERSION or runs:/RUN_ID.",
    ),
    output: str = typer.Option("tree", "--format", help="tree or json."),
) -> None:
    """Print the upstream lineage tree of a model version, dataset version or run."""
    from tether.lineage.resolve import upstream_of

    check_format(output, ["tree", "json"])
    node = upstream_of(uri)
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
        for child in node.children:
            branch = tree.add(self.label(child))
            self.add_children(branch, child)

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
        facts = [("digest", d["digest"])]
        if "media_type" in d:
            facts.append(("type", d["media_type"]))
        return facts

    def run_facts(self, d: dict[str, Any]) -> list[tuple[str, str]]:
        facts = [
            (
                "status",
                d["status"]
                + (f", cached from {d['cached_from']}" if d["cached_from"] else ""),
            )
        ]
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
        commit = git.get("commit") or f"none ({git.get('error')})"
        facts.append(
            (
                "commit",
                f"{commit}  branch {git.get('branch') or '-'}  dirty {git.get('dirty')}",
            )
        )
        if "code/diff.patch" in d["source_artifacts"]:
            facts.append(
                (
                    "diff",
                    "uncommitted changes stored as "
                    + d["source_artifacts"]["code/diff.patch"][:16],
                )
            )
        facts.append(("entry point", str(d["entry_point"])))
        facts.append(
            (
                "environment",
                f"Python {env.get('python')}, {env.get('package_count')} packages "
                f"(digest {str(env.get('packages_digest'))[:12]})",
            )
        )
        return facts


def _compact(mapping: dict[str, Any]) -> str:
    parts = []
    for key, value in sorted(mapping.items()):
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        if len(text) > MAX_VALUE_CHARS:
            text = text[: MAX_VALUE_CHARS - 1] + "…"
        parts.append(f"{key}={text}")
    return ", ".join(parts)

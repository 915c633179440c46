"""The step graph of a pipeline, built from the values passed between steps.

While a pipeline function runs, a step call does not run the step: it adds a
:class:`StepNode` to the graph and returns a :class:`StepOutput` that stands
for the value the step will return. Passing that output to another step adds
an edge. Because an output exists only after its step was called, the graph
is acyclic by construction; :meth:`StepGraph.order` still checks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tether.errors import PipelineError

if TYPE_CHECKING:
    from tether.pipelines.step_spec import StepSpec


@dataclass(eq=False)
class StepNode:
    """One step call in a pipeline.

    Attributes:
        label: Unique name in the graph: the step's name, then ``name#2``,
            ``name#3`` for further calls of the same step.
        spec: The decorated step.
        arguments: The call's arguments by parameter name; some are
            :class:`StepOutput` values of upstream steps.
        after: Steps that must finish first without passing a value.
    """

    label: str
    spec: StepSpec
    arguments: dict[str, Any]
    after: tuple[StepNode, ...] = ()

    def upstream(self) -> list[StepNode]:
        """Return the steps this one waits for, in first-use order."""
        found: list[StepNode] = []
        for value in self.arguments.values():
            if isinstance(value, StepOutput) and value.node not in found:
                found.append(value.node)
        for node in self.after:
            if node not in found:
                found.append(node)
        return found

    def output(self) -> StepOutput:
        """Return the output that stands for the whole return value."""
        return StepOutput(self, None)


class StepOutput:
    """The future return value of a step, or one item of its returned tuple.

    It can be passed to other steps, unpacked when the step declares how many
    values it returns, and returned from the pipeline. Anything else, such as
    ``if output:`` or ``output["key"]``, raises :class:`PipelineError`,
    because the value does not exist while the graph is built.
    """

    __slots__ = ("index", "node")

    def __init__(self, node: StepNode, index: int | None) -> None:
        self.node = node
        self.index = index

    def __iter__(self) -> Iterator[StepOutput]:
        count = self._count()
        return iter([StepOutput(self.node, i) for i in range(count)])

    def __len__(self) -> int:
        return self._count()

    def __getitem__(self, index: int) -> StepOutput:
        if not isinstance(index, int):
            raise self._not_yet(f"item {index!r}")
        count = self._count()
        if not -count <= index < count:
            raise PipelineError(
                f"step {self.node.label!r} returns {count} values; index {index!r} "
                f"is not one of 0 to {count - 1}",
                step=self.node.label,
            )
        return StepOutput(self.node, index % count)

    def __bool__(self) -> bool:
        raise self._not_yet("the truth value")

    def __repr__(self) -> str:
        item = "" if self.index is None else f"[{self.index}]"
        return f"<output of step {self.node.label}{item}>"

    def _count(self) -> int:
        count = self.node.spec.outputs
        if self.index is not None or count is None:
            raise PipelineError(
                f"the output of step {self.node.label!r} cannot be unpacked: declare "
                "how many values it returns with a tuple return annotation such as "
                "-> tuple[pd.DataFrame, pd.DataFrame], or with @tether.step(outputs=2)",
                step=self.node.label,
            )
        return count

    def _not_yet(self, subject: str) -> PipelineError:
        return PipelineError(
            f"{subject} of the output of step {self.node.label!r} is not known while the "
            "pipeline is being built; pass the output to another step and decide there",
            step=self.node.label,
        )


@dataclass
class StepGraph:
    """The steps of one pipeline call, in the order they were called."""

    nodes: list[StepNode] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)

    def add(
        self, spec: StepSpec, arguments: dict[str, Any], after: tuple[StepNode, ...]
    ) -> StepNode:
        """Add a call of ``spec`` and return its node."""
        count = self._counts.get(spec.name, 0) + 1
        self._counts[spec.name] = count
        label = spec.name if count == 1 else f"{spec.name}#{count}"
        node = StepNode(label, spec, arguments, after)
        self.nodes.append(node)
        return node

    def order(self) -> list[StepNode]:
        """Return the nodes in an order where every step follows its upstream steps.

        Raises:
            PipelineError: the graph has a cycle; the message names its steps.
        """
        state: dict[int, str] = {}
        ordered: list[StepNode] = []
        for node in self.nodes:
            self._visit(node, state, ordered, [])
        return ordered

    def _visit(
        self,
        node: StepNode,
        state: dict[int, str],
        ordered: list[StepNode],
        path: list[StepNode],
    ) -> None:
        mark = state.get(id(node))
        if mark == "done":
            return
        if mark == "visiting":
            cycle = [*path[path.index(node) :], node]
            raise PipelineError(
                "the pipeline's steps form a cycle: "
                + " -> ".join(n.label for n in cycle)
                + "; a step cannot depend on its own output",
                step=node.label,
            )
        state[id(node)] = "visiting"
        path.append(node)
        for upstream in node.upstream():
            self._visit(upstream, state, ordered, path)
        path.pop()
        state[id(node)] = "done"
        ordered.append(node)

    def describe(self) -> list[dict[str, Any]]:
        """Return the graph as JSON-compatible records, one per step call."""
        return [
            {
                "label": node.label,
                "step": node.spec.name,
                "function": node.spec.reference,
                "upstream": [n.label for n in node.upstream()],
            }
            for node in self.nodes
        ]

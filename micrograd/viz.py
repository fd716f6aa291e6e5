"""Graph drawing in the style of micrograd's trace_graph notebook.

to_dot(root) gives DOT source with no dependency; draw_dot(root) gives a
graphviz.Digraph (pip install graphviz) to render or show in Jupyter. Each Value
is a record `label | data | grad` (the label only when it has one) and each op
an oval feeding its result: child -> op -> node. Node names are a counter in
walk order (n0 is root), so names do not depend on memory addresses.

This is not a layout engine: graphs over max_nodes Values (default 2000) are
refused with ValueError rather than drawn unreadably; max_nodes=None lifts it.
"""
from __future__ import annotations

import shutil
import warnings
TYPE_CHECKING = False   # (typing is not imported at run time: see engine.py)
if TYPE_CHECKING:
    from typing import Any

    from micrograd.engine import Value

_RANKDIRS = ("LR", "TB", "RL", "BT")
_MISSING = ("draw_dot needs the graphviz Python package: pip install graphviz "
            "(or pip install 'micrograd-c[viz]'); rendering also needs the Graphviz "
            "'dot' program from your system's package, e.g. apt install graphviz")


def _trace(root, max_nodes):
    """Values reachable from root in walk order, and (child, parent) edges; no recursion."""
    index, edges, stack = {root: 0}, [], [root]
    while stack:
        v = stack.pop()
        for child in v._prev:
            edges.append((child, v))
            if child not in index:
                if max_nodes is not None and len(index) >= max_nodes:
                    raise ValueError(
                        f"the graph has more than {max_nodes} Values (max_nodes={max_nodes}); "
                        "pass a larger max_nodes, or max_nodes=None for no limit, "
                        "or draw a smaller subexpression")
                index[child] = len(index)
                stack.append(child)
    return index, edges


def _nary_count(v):
    """How many children v's node has, repeats included, if its op takes any number of
    them (dot, logsumexp: C's op table says which); None for other nodes."""
    from micrograd._core import _kids, _node_fields, lib
    if lib.mg_op_kind(_node_fields(v._i)[0]) != lib.MG_KIND_NARY:
        return None
    return len(_kids(v._i))


def _escape(text, specials=""):
    """Label text as Graphviz reads it: a backslash escapes itself and the specials."""
    if not any(ch in text for ch in "\\\n" + specials):
        return text
    text = "".join("\\" + ch if ch == "\\" or ch in specials else ch for ch in text)
    return text.replace("\r\n", "\\n").replace("\n", "\\n")


def _quote(text):
    """A DOT quoted string; only the quote needs escaping, once _escape has run."""
    return '"' + text.replace('"', '\\"') + '"'


def _record(v):
    """`{ label | data | grad }`, the label only when there is one."""
    label = _escape(v.label, "{}|<>")
    fields = ([label] if label else []) + ["data %.4f" % v.data, "grad %.4f" % v.grad]
    return "{ " + " | ".join(fields) + " }"


def _graph(root, rankdir, max_nodes):
    """(nodes, edges): nodes as (name, label, shape), edges as (tail, head)."""
    if rankdir not in _RANKDIRS:
        raise ValueError(f"rankdir must be one of {_RANKDIRS}, not {rankdir!r}")
    index, children = _trace(root, max_nodes)
    nodes, edges = [], []
    for v, i in index.items():
        nodes.append((f"n{i}", _record(v), "record"))
        op, count = v._op, _nary_count(v)
        if op and count is not None:    # one node for many children: say how many
            op = f"{op} ({count})"
        if op:
            nodes.append((f"n{i}_op", _escape(op), "ellipse"))
            edges.append((f"n{i}_op", f"n{i}"))
    edges += [(f"n{index[c]}", f"n{index[p]}_op") for c, p in children]
    return nodes, edges


def to_dot(root: Value, rankdir: str = "LR", max_nodes: int | None = 2000) -> str:
    """DOT source (a str) of the graph that produced root."""
    nodes, edges = _graph(root, rankdir, max_nodes)
    lines = ["digraph {", f"  rankdir={rankdir}"]
    lines += [f"  {name} [label={_quote(label)} shape={shape}]" for name, label, shape in nodes]
    lines += [f"  {tail} -> {head}" for tail, head in edges]
    return "\n".join(lines + ["}"]) + "\n"


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR",
             max_nodes: int | None = 2000) -> Any:
    """A graphviz.Digraph of the graph that produced root, as in micrograd's notebook."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(_MISSING) from e
    if shutil.which("dot") is None:
        warnings.warn("the Graphviz 'dot' program is not on PATH, so this graph cannot be "
                      "rendered: install your system's package, e.g. apt install graphviz",
                      stacklevel=2)
    nodes, edges = _graph(root, rankdir, max_nodes)
    dot = graphviz.Digraph(format=format, graph_attr={"rankdir": rankdir})
    for name, label, shape in nodes:
        dot.node(name, label=label, shape=shape)   # graphviz adds the quotes
    for tail, head in edges:
        dot.edge(tail, head)
    return dot

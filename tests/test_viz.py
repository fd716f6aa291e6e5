"""micrograd.viz: the DOT text of small graphs, checked against structures written
by hand from the expressions; deep and oversized graphs; labels and their
escaping, rendered by the real `dot` when Graphviz is installed."""
import html
import re
import shutil
import subprocess
import sys

import pytest

from micrograd.engine import Value
from micrograd.viz import draw_dot, to_dot

NODE = re.compile(r'\s*(\w+) \[label="((?:[^"\\]|\\.)*)" shape=(record|ellipse)\]')
EDGE = re.compile(r"\s*(\w+) -> (\w+)")
HEADER = re.compile(r"digraph \{|\s*rankdir=\w+|\s*graph \[rankdir=\w+\]|\}|")


def parse(dot):
    """({name: (label, shape)}, [(tail, head)]) from DOT text; any other line fails."""
    nodes, edges = {}, []
    for line in dot.splitlines():
        if m := NODE.fullmatch(line):
            assert m[1] not in nodes, f"node {m[1]} declared twice"
            nodes[m[1]] = (m[2].replace('\\"', '"'), m[3])
        elif m := EDGE.fullmatch(line):
            edges.append((m[1], m[2]))
        else:
            assert HEADER.fullmatch(line), f"unexpected DOT line {line!r}"
    return nodes, edges


def structure(dot):
    """The graph in readable names: a record is its label field (or its whole label),
    an op node is its op followed by the name of the record it feeds."""
    nodes, edges = parse(dot)
    name = {n: label.strip("{} ").split(" | ")[0] if len(label.split(" | ")) == 3 else label
            for n, (label, shape) in nodes.items() if shape == "record"}
    for tail, head in edges:
        if nodes[tail][1] == "ellipse":
            name[tail] = nodes[tail][0] + name[head]
    edge_names = [(name[t], name[h]) for t, h in edges]
    assert len(set(edge_names)) == len(edge_names), "an edge is drawn twice"
    return sorted(label for label, shape in nodes.values() if shape == "record"), set(edge_names)


_keep = []


def lecture():
    """The lecture's d = a*b + c, with labels, after d.backward(). As in the
    notebook, every labeled Value stays referenced."""
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    d.backward()
    _keep.extend([a, b, c, e])
    return d


# d = e + c, e = a*b: dd/de = dd/dc = 1, dd/da = b = -3, dd/db = a = 2
LECTURE_RECORDS = sorted(["{ a | data 2.0000 | grad -3.0000 }", "{ b | data -3.0000 | grad 2.0000 }",
                          "{ c | data 10.0000 | grad 1.0000 }", "{ e | data -6.0000 | grad 1.0000 }",
                          "{ d | data 4.0000 | grad 1.0000 }"])
LECTURE_EDGES = {("a", "*e"), ("b", "*e"), ("*e", "e"), ("e", "+d"), ("c", "+d"), ("+d", "d")}


# ---------------------------------------------------------------- to_dot

def test_to_dot_of_lecture_expression_has_a_record_per_value_and_an_op_node_per_op():
    d = lecture()
    assert structure(to_dot(d)) == (LECTURE_RECORDS, LECTURE_EDGES)
    nodes, edges = parse(to_dot(d))
    assert [shape for _, shape in nodes.values()].count("ellipse") == 2
    assert len(edges) == 6


def test_value_without_label_shows_only_data_and_grad():
    y = Value(1.5) * 2
    nodes, edges = parse(to_dot(y))
    assert sorted(nodes.values()) == [("*", "ellipse"),
                                      ("{ data 1.5000 | grad 0.0000 }", "record"),
                                      ("{ data 2.0000 | grad 0.0000 }", "record"),
                                      ("{ data 3.0000 | grad 0.0000 }", "record")]
    assert len(edges) == 3


def test_value_used_twice_is_one_node():
    a = Value(3.0, label="a")
    t = a * a
    t.label = "t"
    y = t + a
    y.label = "y"
    records, edges = structure(to_dot(y))
    assert len(records) == 3
    # micrograd's _prev is a set: a*a has the one child a, drawn with one edge
    assert edges == {("a", "*t"), ("*t", "t"), ("t", "+y"), ("a", "+y"), ("+y", "y")}


def test_labels_outlive_the_handles_they_were_set_on():
    def neuron():                                 # micrograd 0.1.0 keeps a's label
        a = Value(2.0, label="a")
        return a * 3
    records, _ = structure(to_dot(neuron()))
    assert "{ a | data 2.0000 | grad 0.0000 }" in records


def test_op_nodes_show_micrograds_op_names():
    y = ((Value(2.0) ** 2).relu() + 1).tanh()
    nodes, _ = parse(to_dot(y))
    assert sorted(label for label, shape in nodes.values() if shape == "ellipse") == \
        ["**2", "+", "ReLU", "tanh"]


def test_rankdir_is_written_and_checked():
    assert "rankdir=TB" in to_dot(lecture(), rankdir="TB")
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(lecture(), rankdir="LR]; evil [")


def test_label_metacharacters_are_escaped_for_records_and_dot():
    x = Value(1.0, label='x{|}<>"\\\nz')
    # record specials and the backslash get a backslash, the newline becomes \n,
    # and the quote is escaped once more for the DOT quoted string
    assert to_dot(x).splitlines()[2] == \
        r'  n0 [label="{ x\{\|\}\<\>\"\\\nz | data 1.0000 | grad 0.0000 }" shape=record]'


# ---------------------------------------------------------------- size

def chain(n):
    x = Value(0.5)
    for _ in range(n):
        x = x.tanh()
    return x


def test_deep_chain_is_drawn_without_recursion():
    y = chain(100_000)
    assert sys.getrecursionlimit() < 100_000
    nodes, edges = parse(to_dot(y, max_nodes=None))
    assert len(nodes) == 100_001 + 100_000       # every Value, every tanh
    assert len(edges) == 2 * 100_000


def test_default_limit_is_2000_values():
    to_dot(chain(1999))
    with pytest.raises(ValueError, match="more than 2000 Values"):
        to_dot(chain(2000))


def test_graph_over_max_nodes_is_refused_with_how_to_raise_the_limit():
    d = lecture()                                 # 5 Values
    assert structure(to_dot(d, max_nodes=5))[1] == LECTURE_EDGES
    with pytest.raises(ValueError, match=r"more than 4 Values.*max_nodes=None"):
        to_dot(d, max_nodes=4)


# ---------------------------------------------------------------- draw_dot

def have_graphviz():
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return True


needs_graphviz = pytest.mark.skipif(not have_graphviz(), reason=(
    "the graphviz Python package is not installed (pip install graphviz)"))
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason=(
    "the Graphviz 'dot' program is not on PATH (apt install graphviz)"))


def svg_texts(svg):
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


@needs_graphviz
def test_draw_dot_is_a_digraph_of_the_same_graph():
    import graphviz
    d = lecture()
    dot = draw_dot(d)
    assert isinstance(dot, graphviz.Digraph) and dot.format == "svg"
    assert structure(dot.source) == (LECTURE_RECORDS, LECTURE_EDGES)


@needs_graphviz
def test_draw_dot_refuses_graph_over_max_nodes():
    with pytest.raises(ValueError, match="more than 4 Values"):
        draw_dot(lecture(), max_nodes=4)


@needs_graphviz
@needs_dot
def test_draw_dot_renders_svg_with_labels_data_and_grads():
    svg = draw_dot(lecture()).pipe().decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    texts = svg_texts(svg)
    for field in ["a", "data 2.0000", "grad -3.0000", "d", "data 4.0000", "*", "+"]:
        assert field in texts


@needs_dot
def test_dot_program_shows_escaped_label_literally():
    label = 'x{|}<>"\\ \\n'
    svg = subprocess.run(["dot", "-Tsvg"], input=to_dot(Value(1.0, label=label)),
                         capture_output=True, text=True, check=True).stdout
    assert svg_texts(svg) == [label, "data 1.0000", "grad 0.0000"]


@needs_graphviz
@needs_dot
def test_draw_dot_renders_escaped_label_literally():
    label = 'x{|}<>"\\ \\n'
    assert svg_texts(draw_dot(Value(1.0, label=label)).pipe().decode()) == \
        [label, "data 1.0000", "grad 0.0000"]


def test_missing_graphviz_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)   # import graphviz raises ImportError
    with pytest.raises(ImportError) as e:
        draw_dot(lecture())
    assert "pip install graphviz" in str(e.value) and "apt install graphviz" in str(e.value)


@needs_graphviz
def test_missing_dot_program_warns_what_to_install(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="apt install graphviz"):
        draw_dot(lecture())


def test_a_reused_node_slot_does_not_inherit_an_old_label():
    from micrograd.engine import stats
    labelled = [Value(float(k), label=f"old{k}") for k in range(50)]
    del labelled
    stats()                                       # releases the dead nodes: their slots are free
    fresh = [Value(1.0) * 2.0 for _ in range(200)]
    assert {v.label for v in fresh} == {""}
    assert {c.label for v in fresh for c in v._prev} == {""}

"""Deliberate type errors, one a line, each marked with a comment that says what is
wrong: mypy --strict must report every one, and nothing else (tests/test_types.py).
Not run."""
from micrograd.engine import Value, get_data, leaves
from micrograd.nn import MLP, load
from micrograd.optim import SGD

v = Value(1.0)
v + "a"                                 # error: a str is not an operand
(2.0 * v).upper()                       # error: float * Value is a Value
v.relu(2)                               # error: relu takes no argument
Value("a")                              # error: data is a number
v.data.upper()                          # error: data is a float
v._prev.upper()                         # error: _prev is a set
m = MLP(2, [3, 1])
m.parameters()[0].data.upper()          # error: parameters() is a list of Values
MLP(2, 3)                               # error: nouts is a list of sizes
load(m, "m.json").layers[0].upper()     # error: load gives the model back, layers a list
SGD(m.parameters(), lr="fast")          # error: lr is a number
SGD(m.parameters()).step().backward()   # error: step() without a closure gives None
leaves([1.0])[0].grad.upper()           # error: grad is a float
get_data([v]).upper()                   # error: get_data gives an array of floats

"""Deliberate type errors, one a line, each marked with the error code mypy gives it
and what is wrong: mypy --strict must report every one, and nothing else
(tests/test_types.py). Not run."""
from micrograd.engine import Value, get_data, leaves
from micrograd.nn import MLP, load
from micrograd.optim import SGD

v = Value(1.0)
v + "a"                                 # error [arg-type]: a str is not an operand
(2.0 * v).upper()                       # error [attr-defined]: float * Value is a Value
v.relu(2)                               # error [call-arg]: relu takes no argument
Value("a")                              # error [arg-type]: data is a number
v.data.upper()                          # error [attr-defined]: data is a float
v._prev.upper()                         # error [attr-defined]: _prev is a set
m = MLP(2, [3, 1])
m.parameters()[0].data.upper()          # error [attr-defined]: parameters() is a list of Values
MLP(2, 3)                               # error [arg-type]: nouts is a list of sizes
load(m, "m.json").layers[0].upper()     # error [attr-defined]: load gives the model back
SGD(m.parameters(), lr="fast")          # error [arg-type]: lr is a number
SGD(m.parameters()).step().backward()   # error [attr-defined]: step() without a closure gives None
leaves([1.0])[0].grad.upper()           # error [attr-defined]: grad is a float
get_data([v]).upper()                   # error [attr-defined]: get_data gives an array of floats

"""An optimizer's state at its edges (test_optim.py has the update rules and the usual
state_dict round trips): numbers no float64 holds, the step count at the limit of C's
int64, and optimizers copied and pickled (state, parameters, subclass attributes)."""
import copy
import pickle

import pytest

from micrograd import optim
from micrograd._mg import ffi, lib
from micrograd.engine import Value
from micrograd.nn import MLP

KINDS = [(optim.SGD, {"momentum": 0.9}), (optim.SGD, {}), (optim.Adam, {}),
         (optim.AdamW, {"weight_decay": 0.1})]
KIND_IDS = ["SGD-momentum", "SGD", "Adam", "AdamW"]
HUGE = [10**400, -10**5000]         # beyond float64; the second cannot even be printed
STEP_TYPE = ffi.typeof(lib.mg_optim_load).args[-1]          # C's step count: int64_t
LIMIT = 2 ** (8 * ffi.sizeof(STEP_TYPE) - 1) - 1            # the largest it holds


def grads(ps, step):
    for k, p in enumerate(ps):
        p.grad = 0.1 * (k + 1) - 0.03 * step


def train(opt, ps, steps, start=0):
    for s in range(start, start + steps):
        grads(ps, s)
        opt.step()


def stepped(cls, kw, steps=3):
    ps = [Value(float(k) - 1.5) for k in range(3)]
    opt = cls(ps, lr=0.01, **kw)
    train(opt, ps, steps)
    return opt, ps


def data(ps):
    return [p.data for p in ps]


# ---------------------------------------------------------------- numbers no float64 holds

def with_huge(value, huge):
    """value with its first number replaced by huge (a list, a pair, or a number)."""
    if isinstance(value, (list, tuple)):
        return type(value)([huge, *value[1:]])
    return huge


STATE_KEYS = [(optim.SGD, {"momentum": 0.9}, key) for key in
              ("lr", "momentum", "dampening", "weight_decay", "momentum_buffer")] + [
              (optim.Adam, {}, key) for key in
              ("betas", "eps", "weight_decay", "exp_avg", "exp_avg_sq")]


@pytest.mark.parametrize("huge", HUGE, ids=["10**400", "-10**5000"])
@pytest.mark.parametrize("cls, kw, key", STATE_KEYS,
                         ids=[f"{cls.__name__}-{key}" for cls, _, key in STATE_KEYS])
def test_a_state_number_no_float64_holds_is_the_documented_value_error(cls, kw, key, huge):
    opt, ps = stepped(cls, kw)
    before, params = opt.state_dict(), data(ps)
    with pytest.raises(ValueError, match=f"cannot load the state of {cls.__name__}: .*"
                                         "too large for a float64"):
        opt.load_state_dict({**before, key: with_huge(before[key], huge)})
    assert opt.state_dict() == before and data(ps) == params


@pytest.mark.parametrize("cls, key", [(optim.SGD, "lr"), (optim.SGD, "momentum"),
                                      (optim.SGD, "dampening"), (optim.Adam, "betas"),
                                      (optim.Adam, "eps"), (optim.AdamW, "weight_decay")])
def test_a_hyper_parameter_no_float64_holds_is_a_value_error(cls, key):
    value = with_huge(cls([Value(0.0)]).state_dict()[key], 10**400)
    with pytest.raises(ValueError, match="too large for a float64"):
        cls([Value(0.0)], **{key: value})


# ---------------------------------------------------------------- the step count

def test_max_step_is_the_largest_step_c_holds():
    assert optim.MAX_STEP == LIMIT
    ffi.new(f"{STEP_TYPE.cname} *", LIMIT)
    with pytest.raises(OverflowError):
        ffi.new(f"{STEP_TYPE.cname} *", LIMIT + 1)


@pytest.mark.parametrize("step", [LIMIT + 1, 2**64, -1, 10**5000 + 1],
                         ids=["LIMIT+1", "2**64", "-1", "10**5000+1"])
def test_a_step_count_beyond_c_is_rejected_and_changes_nothing(step):
    opt, _ = stepped(optim.Adam, {})
    before = opt.state_dict()
    with pytest.raises(ValueError, match="step must be an int >= 0 and <= 2\\*\\*63 - 1"):
        opt.load_state_dict({**before, "step": step})
    assert opt.state_dict() == before


@pytest.mark.parametrize("cls, kw", KINDS, ids=KIND_IDS)
def test_step_refuses_to_count_past_the_limit_before_c_counts(cls, kw):
    opt, ps = stepped(cls, kw)
    opt.load_state_dict({**opt.state_dict(), "step": LIMIT - 1})
    train(opt, ps, 1)
    at_limit, params, called = opt.state_dict(), data(ps), []
    assert at_limit["step"] == LIMIT
    with pytest.raises(OverflowError, match="2\\*\\*63 - 1"):
        opt.step(lambda: called.append(1))
    assert opt.state_dict() == at_limit and data(ps) == params and not called
    opt.load_state_dict(opt.state_dict())                   # its own state loads back
    with pytest.raises(OverflowError):
        opt.step()
    opt.load_state_dict({**at_limit, "step": 5})            # and a lower count steps again
    train(opt, ps, 1)
    assert opt.state_dict()["step"] == 6


def test_a_step_count_may_be_a_numpy_integer():
    np = pytest.importorskip("numpy")
    opt, _ = stepped(optim.Adam, {})
    opt.load_state_dict({**opt.state_dict(), "step": np.int64(7)})
    assert opt.state_dict()["step"] == 7 and type(opt.state_dict()["step"]) is int


# ---------------------------------------------------------------- copies and pickles

def pickled(x):
    return pickle.loads(pickle.dumps(x))


@pytest.mark.parametrize("clone", [copy.deepcopy, pickled], ids=["deepcopy", "pickle"])
@pytest.mark.parametrize("cls, kw", KINDS, ids=KIND_IDS)
def test_a_copied_optimizer_over_copied_values_continues_bit_for_bit(cls, kw, clone):
    opt, ps = stepped(cls, kw)
    qs, other = clone((ps, opt))                # copied together: the copy steps the copies
    assert type(other) is cls and other.state_dict() == opt.state_dict()
    assert data(qs) == data(ps) and not set(map(id, qs)) & set(map(id, ps))
    train(opt, ps, 5, start=3)
    train(other, qs, 5, start=3)
    assert data(qs) == data(ps) and other.state_dict() == opt.state_dict()


@pytest.mark.parametrize("clone", [copy.deepcopy, pickled], ids=["deepcopy", "pickle"])
def test_a_model_and_its_optimizer_copied_together_stay_linked(clone):
    model = MLP(2, [3, 1])
    opt = optim.Adam(model.parameters(), lr=0.1)
    train(opt, model.parameters(), 2)
    before = data(model.parameters())
    model2, opt2 = clone((model, opt))
    train(opt2, model2.parameters(), 1, start=2)
    assert data(model2.parameters()) != before == data(model.parameters())


def test_deepcopy_of_an_optimizer_alone_copies_its_parameters_as_torchs_does():
    torch = pytest.importorskip("torch")
    t = torch.zeros(1, requires_grad=True)
    theirs = copy.deepcopy(torch.optim.Adam([t]))
    assert theirs.param_groups[0]["params"][0] is not t
    opt, ps = stepped(optim.Adam, {})
    other, params = copy.deepcopy(opt), data(ps)
    for _ in range(2):
        other.step()                            # over copies of ps: ps stay as they were
    assert data(ps) == params and other.state_dict()["step"] == opt.state_dict()["step"] + 2


def test_copy_copy_steps_the_same_values_with_moments_of_its_own():
    opt, ps = stepped(optim.SGD, {"momentum": 0.9})
    before, params = opt.state_dict(), data(ps)
    other = copy.copy(opt)
    other.step()
    assert data(ps) != params                   # the same Values
    assert opt.state_dict() == before           # its own moments and step


class Noted(optim.Adam):
    """A subclass with an attribute of its own: pickled and copied with the rest."""

    def __init__(self, params, note, **kw):
        super().__init__(params, **kw)
        self.note = note


@pytest.mark.parametrize("clone", [copy.deepcopy, pickled], ids=["deepcopy", "pickle"])
def test_a_subclass_and_its_attributes_survive_a_copy(clone):
    ps = [Value(1.0), Value(2.0)]
    opt = Noted(ps, note={"run": 42}, lr=0.5)
    train(opt, ps, 2)
    other = clone(opt)
    assert type(other) is Noted and other.note == {"run": 42} and other.lr == 0.5
    assert other.state_dict() == opt.state_dict()

"""micrograd.optim against torch.optim (float64), and its C API (csrc/optim.c) on its own.

Update rules: both optimizers get the same grads, a function of the step, the
parameter and its data, for 100 steps; then one MLP trained end to end in both.
torch's AVX2 kernels fuse `a + alpha * b` into an FMA and its float64 sqrt is not
always correctly rounded, so parameters agree to a relative 1e-12, not bit for bit;
with torch's plain kernels (ATEN_CPU_CAPABILITY=default) SGD agrees bit for bit.
Also: argument errors as torch raises them, lr between steps, grads and flags,
state_dict round trips and every way a load fails, lifetimes, statuses.
"""
import gc
import json
import math
import os
import platform
import random
import subprocess
import sys
import threading
import weakref

import pytest
import torch

from micrograd import optim
from micrograd._mg import ffi, lib
from micrograd.engine import Value, stats
from micrograd.nn import MLP

REL = 1e-12
STEPS = 100

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-6}),  # lerp's other branch (weight >= 0.5)
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CONFIGS]


def grad_at(step, k, x):
    """A deterministic grad for parameter k at a step, from its data."""
    return math.sin(1.3 * x + 0.7 * k + 0.1 * step) + 0.01 * x * k


def lr_at(lr, step, decay):
    return lr * (1 - step / 200) if decay else lr


def close(a, b):
    return all(math.isclose(x, y, rel_tol=REL) for x, y in zip(a, b)) and len(a) == len(b)


def run_ours(name, kw, init, decay=False, steps=STEPS):
    ps = [Value(x) for x in init]
    opt = getattr(optim, name)(ps, **kw)
    for s in range(steps):
        opt.lr = lr_at(kw["lr"], s, decay)
        for k, p in enumerate(ps):
            p.grad = grad_at(s, k, p.data)
        opt.step()
    return [p.data for p in ps]


def run_torch(name, kw, init, decay=False, steps=STEPS):
    ps = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in init]
    opt = getattr(torch.optim, name)(ps, foreach=False, **kw)   # the single-tensor path
    for s in range(steps):
        opt.param_groups[0]["lr"] = lr_at(kw["lr"], s, decay)
        for k, p in enumerate(ps):
            p.grad = torch.tensor(grad_at(s, k, p.item()), dtype=torch.float64)
        opt.step()
    return [p.item() for p in ps]


def initial(n=20, seed=1):
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(n)]


# ---------------------------------------------------------------- update rules

@pytest.mark.parametrize("decay", [False, True], ids=["fixed-lr", "lr-set-each-step"])
@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_update_rule_matches_torch_for_100_steps(name, kw, decay):
    init = initial()
    ours, theirs = run_ours(name, kw, init, decay), run_torch(name, kw, init, decay)
    assert ours != init
    assert close(ours, theirs), max(abs(a - b) / abs(b) for a, b in zip(ours, theirs))


SGD_BIT_FOR_BIT = """
import json, sys
sys.path.insert(0, {tests!r})
from test_optim import CONFIGS, initial, run_ours, run_torch
print(json.dumps([run_ours(n, kw, initial(), d) == run_torch(n, kw, initial(), d)
                  for n, kw in CONFIGS if n == "SGD" for d in (False, True)]))
"""


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="where FMA is baseline (arm64), torch's plain kernels use it")
def test_sgd_is_bit_for_bit_torch_with_torchs_plain_kernels():
    """The same order of operations: without torch's FMAs, not one bit differs."""
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    code = SGD_BIT_FOR_BIT.format(tests=os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == [True] * 10


# ---------------------------------------------------------------- end to end

XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def torch_mlp_loss(params, sizes=(3, 4, 4, 1)):
    """MLP(3, [4, 4, 1])'s loss on scalar tensors, node for node as micrograd builds it:
    a neuron is ((b + w0*x0) + w1*x1) + ..., ReLU on hidden layers, squared errors
    summed from 0. params in nn's order (each neuron's w..., then its b)."""
    loss = 0
    for x, y in zip(XS, YS):
        it = iter(params)
        h = [torch.tensor(v, dtype=torch.float64) for v in x]
        for layer in range(len(sizes) - 1):
            out = []
            for _ in range(sizes[layer + 1]):
                w = [next(it) for _ in h]
                act = next(it)
                for wi, hi in zip(w, h):
                    act = act + wi * hi
                out.append(torch.relu(act) if layer < len(sizes) - 2 else act)
            h = out
        loss = loss + (h[0] - y) ** 2
    return loss


@pytest.mark.parametrize("name, kw", [
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    ("Adam", {"lr": 0.05, "weight_decay": 1e-3}),
    ("AdamW", {"lr": 0.05}),
])
def test_training_an_mlp_matches_torch(name, kw):
    random.seed(3)
    model = MLP(3, [4, 4, 1])
    params = model.parameters()
    tparams = [torch.tensor(float(p.data), dtype=torch.float64, requires_grad=True)
               for p in params]
    opt = getattr(optim, name)(params, **kw)
    topt = getattr(torch.optim, name)(tparams, foreach=False, **kw)
    losses = []
    for step in range(STEPS):
        lr = kw["lr"] * 0.99 ** step                      # the demo decays lr
        opt.lr = topt.param_groups[0]["lr"] = lr
        loss = sum((model(x) - y) ** 2 for x, y in zip(XS, YS))
        losses.append(loss.data)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = torch_mlp_loss(tparams)
        topt.zero_grad()
        tloss.backward()
        topt.step()
    ours, theirs = [p.data for p in params], [t.item() for t in tparams]
    assert close(ours, theirs), max(abs(a - b) / abs(b) for a, b in zip(ours, theirs))
    assert losses[-1] < 0.2 * losses[0]          # it learned


# ---------------------------------------------------------------- arguments

BAD = [
    ("SGD", {"lr": -0.1}, ValueError, "Invalid learning rate: -0.1"),
    ("SGD", {"lr": 0.1, "momentum": -0.5}, ValueError, "Invalid momentum value: -0.5"),
    ("SGD", {"lr": 0.1, "weight_decay": -0.5}, ValueError, "Invalid weight_decay value: -0.5"),
    ("SGD", {"lr": 0.1, "nesterov": True}, ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    ("Adam", {"lr": -0.1}, ValueError, "Invalid learning rate: -0.1"),
    ("Adam", {"eps": -1.0}, ValueError, "Invalid epsilon value: -1.0"),
    ("Adam", {"betas": (1.0, 0.999)}, ValueError, "Invalid beta parameter at index 0: 1.0"),
    ("Adam", {"betas": (0.9, -0.5)}, ValueError, "Invalid beta parameter at index 1: -0.5"),
    ("Adam", {"weight_decay": -0.5}, ValueError, "Invalid weight_decay value: -0.5"),
    ("AdamW", {"lr": -0.1}, ValueError, "Invalid learning rate: -0.1"),
    ("AdamW", {"betas": (0.9, 1.0)}, ValueError, "Invalid beta parameter at index 1: 1.0"),
]


@pytest.mark.parametrize("name, kw, exc, message", BAD, ids=[m + str(kw) for _, kw, _, m in BAD])
def test_bad_arguments_raise_what_torch_raises(name, kw, exc, message):
    with pytest.raises(exc) as theirs:
        getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kw)
    with pytest.raises(exc) as ours:
        getattr(optim, name)([Value(0.0)], **kw)
    assert str(ours.value) == str(theirs.value) == message


@pytest.mark.parametrize("kw", [{"lr": "0.1"}, {"lr": None}, {"lr": True}, {"momentum": "0.9"},
                                {"nesterov": 1, "momentum": 0.9}, {"dampening": [0]}])
def test_non_numbers_are_type_errors(kw):
    with pytest.raises(TypeError):
        optim.SGD([Value(0.0)], **{"lr": 0.1, **kw})


@pytest.mark.parametrize("kw", [{"betas": 0.9}, {"betas": (0.9,)}, {"betas": ("a", 0.9)},
                                {"eps": None}])
def test_bad_adam_argument_types_are_type_errors(kw):
    with pytest.raises(TypeError):
        optim.Adam([Value(0.0)], **kw)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_an_empty_parameter_list_raises_as_torch(cls):
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        cls([], lr=0.1)
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        cls(iter([]), lr=0.1)


@pytest.mark.parametrize("params", [[Value(1.0), 2.0], [Value(1.0), None], [torch.zeros(1)]])
def test_a_parameter_that_is_not_a_value_is_a_type_error(params):
    with pytest.raises(TypeError, match="optimizer can only optimize Values"):
        optim.SGD(params, lr=0.1)


@pytest.mark.parametrize("params", [Value(1.0), 3, None])
def test_params_that_are_not_an_iterable_are_a_type_error(params):
    with pytest.raises(TypeError, match="should be an iterable of Values"):
        optim.Adam(params)


def test_duplicated_parameters_raise_where_torch_warns():
    """torch warns that duplicates 'will cause an error' in future, and steps a
    duplicate twice; an error now is the safer of the two."""
    t = torch.zeros(1, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        torch.optim.SGD([t, t], lr=0.1)
    p = Value(1.0)
    for params in ([p, p], [p, Value(2.0), p]):
        with pytest.raises(ValueError, match="duplicate parameters"):
            optim.SGD(params, lr=0.1)


def test_params_may_be_any_iterable_of_values():
    model = MLP(2, [3, 1])
    opt = optim.SGD(p for p in model.parameters())
    assert len(opt.state_dict()["momentum_buffer"]) == len(model.parameters())


def test_defaults_are_torchs():
    assert optim.SGD([Value(0.0)]).state_dict() == {
        "optimizer": "SGD", "lr": 1e-3, "momentum": 0.0, "dampening": 0.0,
        "weight_decay": 0.0, "nesterov": False, "step": 0, "momentum_buffer": [0.0]}
    adam = optim.Adam([Value(0.0)]).state_dict()
    adamw = optim.AdamW([Value(0.0)]).state_dict()
    assert adam == {"optimizer": "Adam", "lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                    "weight_decay": 0.0, "step": 0, "exp_avg": [0.0], "exp_avg_sq": [0.0]}
    assert adamw == {**adam, "optimizer": "AdamW", "weight_decay": 1e-2}


# ---------------------------------------------------------------- lr

def test_lr_is_settable_between_steps_and_used_by_the_next_step():
    p = Value(1.0)
    opt = optim.SGD([p], lr=0.5)
    p.grad = 1.0
    opt.step()
    opt.lr = 0.25
    opt.step()
    assert opt.lr == 0.25 and p.data == 1.0 - 0.5 - 0.25


@pytest.mark.parametrize("lr, exc", [(-0.1, ValueError), (float("nan"), ValueError),
                                     ("0.1", TypeError), (None, TypeError)])
def test_setting_a_bad_lr_raises_and_keeps_the_old_one(lr, exc):
    opt = optim.Adam([Value(1.0)], lr=0.1)
    with pytest.raises(exc):
        opt.lr = lr
    assert opt.lr == 0.1


def test_lr_takes_ints_and_numpy_floats():
    np = pytest.importorskip("numpy")
    opt = optim.SGD([Value(1.0)], lr=1)
    assert opt.lr == 1.0 and type(opt.lr) is float
    opt.lr = np.float64(0.5)
    assert opt.lr == 0.5 and type(opt.lr) is float


# ---------------------------------------------------------------- grads and data

@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_step_makes_data_floats_and_zero_grad_makes_int_zeros(cls):
    ps = [Value(2), Value(0), Value(-3)]       # int data, int grads (0)
    opt = cls(ps, lr=1)
    for p in ps:
        p.grad = 1
    opt.step()
    assert all(type(p.data) is float for p in ps)
    opt.zero_grad()
    assert [p.grad for p in ps] == [0, 0, 0] and all(type(p.grad) is int for p in ps)


def test_zero_grad_and_step_touch_only_the_parameters():
    a, b = Value(1.0), Value(2.0)
    out = a * b
    out.backward()
    opt = optim.SGD([a], lr=0.1)
    opt.step()
    opt.zero_grad()
    assert (a.data, a.grad) == (1.0 - 0.1 * 2.0, 0)
    assert (b.data, b.grad) == (2.0, 1.0)


def test_a_step_reads_grads_micrograd_accumulated():
    p = Value(3.0)
    loss = p * p
    loss.backward()
    optim.SGD([p], lr=0.1).step()
    assert p.data == 3.0 + -0.1 * 6.0            # param.add_(grad, alpha=-lr)


def test_step_returns_the_closures_loss_as_torch():
    p = Value(1.0)
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = p * p
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.data == 1.0 and p.data == 1.0 - 0.1 * 2.0
    assert opt.step() is None


# ---------------------------------------------------------------- state_dict

def train(opt, ps, steps, start=0):
    for s in range(start, start + steps):
        for k, p in enumerate(ps):
            p.grad = grad_at(s, k, p.data)
        opt.step()


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_a_loaded_state_continues_bit_for_bit(name, kw):
    init = initial(8)
    ps = [Value(x) for x in init]
    opt = getattr(optim, name)(ps, **kw)
    train(opt, ps, 10)
    state = json.loads(json.dumps(opt.state_dict()))     # plain data: survives JSON
    data = [p.data for p in ps]
    train(opt, ps, 10, start=10)
    qs = [Value(x) for x in data]
    other = getattr(optim, name)(qs, lr=0.5)              # other hyper-parameters: loaded too
    other.load_state_dict(state)
    assert other.lr == kw["lr"]
    train(other, qs, 10, start=10)
    assert [q.data for q in qs] == [p.data for p in ps]


def test_state_dict_is_a_copy():
    ps = [Value(1.0), Value(2.0)]
    opt = optim.Adam(ps, lr=0.1)
    for p in ps:
        p.grad = 1.0
    opt.step()
    state = opt.state_dict()
    state["exp_avg"][0] = 99.0
    assert opt.state_dict()["exp_avg"][0] != 99.0
    assert state["step"] == 1 and type(state["step"]) is int
    assert all(type(x) is float for x in state["exp_avg"] + state["exp_avg_sq"])


def sgd_state(**changes):
    return {"optimizer": "SGD", "lr": 0.1, "momentum": 0.9, "dampening": 0.0,
            "weight_decay": 0.0, "nesterov": False, "step": 1,
            "momentum_buffer": [0.5, 0.25, 0.125], **changes}


def without(key):
    state = sgd_state()
    del state[key]
    return state


BAD_STATES = [
    ([1, 2], "must be a dict"),
    (without("momentum_buffer"), "missing momentum_buffer"),
    (without("lr"), "missing lr"),
    (sgd_state(exp_avg=[0.0] * 3), "unexpected 'exp_avg'"),
    (sgd_state(optimizer="Adam"), "it is the state of 'Adam'"),
    (sgd_state(momentum_buffer=[0.5, 0.25]), "momentum_buffer must be a list of 3 numbers"),
    (sgd_state(momentum_buffer=[0.5] * 4), "momentum_buffer must be a list of 3 numbers"),
    (sgd_state(momentum_buffer=None), "momentum_buffer must be a list of 3 numbers"),
    (sgd_state(momentum_buffer=[0.5, "x", 0.1]), "each of momentum_buffer must be a real number"),
    (sgd_state(momentum_buffer=[0.5, True, 0.1]), "each of momentum_buffer must be a real number"),
    (sgd_state(step=-1), "step must be an int >= 0"),
    (sgd_state(step=1.0), "step must be an int >= 0"),
    (sgd_state(step=2**63), "step must be an int >= 0"),
    (sgd_state(lr=-1.0), "Invalid learning rate"),
    (sgd_state(lr="0.1"), "lr must be a real number"),
    (sgd_state(momentum=-1.0), "Invalid momentum value"),
    (sgd_state(nesterov=True, dampening=0.5), "Nesterov momentum requires"),
    (sgd_state(nesterov="yes"), "nesterov must be a bool"),
]


@pytest.mark.parametrize("state, message", BAD_STATES, ids=[m for _, m in BAD_STATES])
def test_a_bad_state_raises_value_error_and_changes_nothing(state, message):
    ps = [Value(1.0), Value(2.0), Value(3.0)]
    opt = optim.SGD(ps, lr=0.01, momentum=0.5)
    train(opt, ps, 3)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(state)
    assert opt.state_dict() == before and opt.lr == 0.01
    train(opt, ps, 1)          # and it still steps as it did
    assert opt.state_dict()["step"] == 4


@pytest.mark.parametrize("key, value, message", [
    ("betas", (0.9, 1.5), "Invalid beta parameter at index 1"),
    ("betas", [0.9], "betas must be a pair"),
    ("eps", -1.0, "Invalid epsilon value"),
    ("exp_avg_sq", [0.0], "exp_avg_sq must be a list of 2 numbers"),
    ("optimizer", "AdamW", "it is the state of 'AdamW'"),
])
def test_a_bad_adam_state_raises_value_error_and_changes_nothing(key, value, message):
    ps = [Value(1.0), Value(2.0)]
    opt = optim.Adam(ps, lr=0.01)
    train(opt, ps, 2)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict({**before, key: value})
    assert opt.state_dict() == before


def test_betas_load_from_a_list():
    opt = optim.Adam([Value(1.0)])
    opt.load_state_dict({**opt.state_dict(), "betas": [0.5, 0.75]})
    assert opt.state_dict()["betas"] == (0.5, 0.75)


def test_a_state_loaded_at_step_0_starts_sgds_buffer_from_the_grad():
    """At step 0 the momentum buffer is torch's None: the first step clones the grad."""
    p = Value(1.0)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict({**opt.state_dict(), "momentum_buffer": [123.0]})
    p.grad = 2.0
    opt.step()
    assert opt.state_dict()["momentum_buffer"] == [2.0] and p.data == 1.0 + -0.1 * 2.0


# ---------------------------------------------------------------- lifetimes

def test_the_optimizer_keeps_its_parameters_alive_and_frees_them_with_itself():
    gc.collect()
    live = stats()["live"]
    model = MLP(3, [4, 1])
    n = len(model.parameters())
    opt = optim.Adam(model.parameters(), lr=0.1)
    del model
    gc.collect()
    assert stats()["live"] == live + n          # held by the optimizer alone
    opt.step()
    ref = weakref.ref(opt)
    del opt
    gc.collect()
    assert ref() is None and stats()["live"] == live


def test_a_new_optimizer_on_reused_slots_starts_from_zero_moments():
    """The moments belong to the optimizer object, not to node slots."""
    ps = [Value(1.0), Value(2.0)]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    train(opt, ps, 3)
    del opt, ps
    gc.collect()
    stats()                                     # releases the dead nodes: their slots are free
    qs = [Value(1.0), Value(2.0)]
    fresh = optim.SGD(qs, lr=0.1, momentum=0.9).state_dict()
    assert fresh["step"] == 0 and fresh["momentum_buffer"] == [0.0, 0.0]


# ---------------------------------------------------------------- the C API

OK, EINDEX, ERANGE, EOP = lib.MG_OK, lib.MG_EINDEX, lib.MG_ERANGE, lib.MG_EOP


@pytest.fixture
def arena():
    return ffi.gc(lib.mg_arena_new(16), lib.mg_arena_free)


def leaves(a, xs):
    idx = [lib.mg_push(a, lib.MG_LEAF, -1, -1, x, 0) for x in xs]
    assert min(idx) >= 0
    return idx


def new(a, idx, kind=lib.MG_SGD, n=None, **fields):
    out = ffi.new("mg_optim **")
    config = ffi.new("mg_optim_config *", {"kind": kind, **fields})
    status = lib.mg_optim_new(a, config, ffi.new("int32_t[]", idx), len(idx) if n is None else n,
                              out)
    return status, (ffi.gc(out[0], lib.mg_optim_free) if status == OK else None)


def data(a, i):
    return lib.mg_value(a, i, lib.MG_DATA)


def test_c_a_dead_parameter_is_eindex_and_changes_nothing(arena):
    idx = leaves(arena, [1.0, 2.0, 3.0])
    for i in idx:
        assert lib.mg_set(arena, i, lib.MG_GRAD, 1.0, 0) == OK
    status, o = new(arena, idx, lib.MG_ADAM, beta1=0.9, beta2=0.999, eps=1e-8)
    assert status == OK
    assert lib.mg_release(arena, ffi.new("int32_t[]", [idx[1]]), 1) == OK
    assert lib.mg_optim_step(o, 0.1) == EINDEX
    assert lib.mg_optim_zero_grad(o) == EINDEX
    step = ffi.new("int64_t *")
    assert lib.mg_optim_state(o, ffi.NULL, ffi.NULL, step) == OK and step[0] == 0
    assert [data(arena, i) for i in (idx[0], idx[2])] == [1.0, 3.0]
    assert lib.mg_value(arena, idx[0], lib.MG_GRAD) == 1.0


def test_c_new_rejects_bad_sizes_and_kinds(arena):
    idx = leaves(arena, [1.0])
    out = ffi.new("mg_optim **")
    config = ffi.new("mg_optim_config *", {"kind": lib.MG_SGD})
    assert new(arena, idx, n=-1)[0] == EINDEX
    assert lib.mg_optim_new(arena, config, ffi.NULL, 1, out) == EINDEX
    assert lib.mg_optim_new(arena, ffi.NULL, ffi.new("int32_t[]", idx), 1, out) == EINDEX
    assert new(arena, idx, kind=lib.MG_OPTIM_COUNT)[0] == EOP
    assert new(arena, idx, kind=-1)[0] == EOP
    status, o = new(arena, [], n=0)              # nothing to do is not an error in C
    assert status == OK and lib.mg_optim_step(o, 0.1) == OK


def test_c_state_and_load_statuses(arena):
    idx = leaves(arena, [1.0, 2.0])
    _, sgd = new(arena, idx, momentum=0.9)
    _, adam = new(arena, idx, lib.MG_ADAMW, beta1=0.9, beta2=0.999, weight_decay=0.01)
    two = ffi.new("double[]", [0.5, 0.25])
    assert lib.mg_optim_state(sgd, ffi.NULL, two, ffi.NULL) == ERANGE   # SGD has no v
    assert lib.mg_optim_load(sgd, ffi.NULL, two, 0) == ERANGE
    assert lib.mg_optim_load(sgd, two, ffi.NULL, -1) == ERANGE
    assert lib.mg_optim_load(adam, two, two, 7) == OK
    m, v, step = ffi.new("double[]", 2), ffi.new("double[]", 2), ffi.new("int64_t *")
    assert lib.mg_optim_state(adam, m, v, step) == OK
    assert (list(m), list(v), step[0]) == ([0.5, 0.25], [0.5, 0.25], 7)


def test_c_sgd_step_is_the_formula_and_clears_the_int_flag(arena):
    idx = leaves(arena, [1.0])
    assert lib.mg_set(arena, idx[0], lib.MG_DATA, 2.0, 1) == OK      # an int 2
    assert lib.mg_set(arena, idx[0], lib.MG_GRAD, 0.5, 0) == OK
    _, o = new(arena, idx, weight_decay=0.1)
    assert lib.mg_optim_step(o, 0.3) == OK
    assert data(arena, idx[0]) == 2.0 + -0.3 * (0.5 + 0.1 * 2.0)
    assert not lib.mg_is_int(arena, idx[0], lib.MG_DATA)
    assert lib.mg_optim_zero_grad(o) == OK and lib.mg_is_int(arena, idx[0], lib.MG_GRAD)


def test_hyper_parameters_are_checked_before_params_as_torch():
    with pytest.raises(ValueError, match="Invalid learning rate"):
        torch.optim.SGD([], lr=-1.0)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([], lr=-1.0)


# ---------------------------------------------------------------- threads

def test_optimizers_in_threads_step_as_they_do_alone(interleave):
    """Each thread trains its own parameters; the arena is shared, the results are not."""
    kws = [("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.01}),
           ("AdamW", {"lr": 0.01}), ("SGD", {"lr": 0.1, "nesterov": True, "momentum": 0.5})]
    alone = [run_ours(name, kw, initial(20, seed=k), steps=50) for k, (name, kw) in enumerate(kws)]
    results = [None] * len(kws)

    def work(k):
        name, kw = kws[k]
        results[k] = run_ours(name, kw, initial(20, seed=k), steps=50)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(kws))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == alone

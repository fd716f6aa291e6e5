"""Module.state_dict()/load_state_dict() and micrograd.nn.save()/load(): names as torch's,
every bit and every int kept, JSON that never runs code, and wrong input rejected whole
(a clear ValueError or TypeError, and the model left as it was)."""
import json
import math
import os
import pickle
import random
import shutil
import stat
import struct
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from micrograd.engine import Value
from micrograd.nn import MLP, Layer, Neuron, load, save

from concurrency import run_threads


def bits(x):
    """What must survive a round trip: the type (int or float) and the float64 bits."""
    return type(x), struct.pack("<d", x)


def snapshot(model):
    return [bits(p.data) for p in model.parameters()]


def model(seed=1, nin=2, nouts=(3, 1)):
    random.seed(seed)
    return MLP(nin, list(nouts))


# ---------------------------------------------------------------- state_dict

def test_state_dict_names_parameters_as_torch_does():
    m = model(nouts=(3, 1))
    assert list(m.state_dict()) == [f"layers.0.neurons.{i}.{p}" for i in range(3) for p in "wb"] \
        + ["layers.1.neurons.0.w", "layers.1.neurons.0.b"]


def test_state_dict_of_a_neuron_and_of_a_layer():
    random.seed(2)
    n, layer = Neuron(3), Layer(2, 2)
    assert n.state_dict() == {"w": [w.data for w in n.w], "b": 0}
    assert list(layer.state_dict()) == ["neurons.0.w", "neurons.0.b", "neurons.1.w", "neurons.1.b"]


def test_state_dict_holds_every_parameter_in_the_order_of_parameters():
    m = model(nouts=(4, 4, 1))
    flat = [x for v in m.state_dict().values() for x in (v if isinstance(v, list) else [v])]
    assert flat == [p.data for p in m.parameters()]


def test_fresh_biases_stay_ints_as_in_micrograd():
    state = model().state_dict()
    assert state["layers.0.neurons.0.b"] == 0 and type(state["layers.0.neurons.0.b"]) is int
    assert all(type(w) is float for w in state["layers.0.neurons.0.w"])


def test_state_dict_is_a_copy_not_a_view():
    m = model()
    state = m.state_dict()
    state["layers.0.neurons.0.w"][0] = 99.0
    m.layers[0].neurons[0].b.data = 5.0
    assert m.layers[0].neurons[0].w[0].data != 99.0
    assert state["layers.0.neurons.0.b"] == 0


def test_load_state_dict_makes_another_model_compute_the_same():
    a, b = model(seed=1), model(seed=2)
    assert snapshot(a) != snapshot(b)
    b.load_state_dict(a.state_dict())
    assert snapshot(b) == snapshot(a)
    x = [Value(0.3), Value(-1.2)]
    assert b(x).data == a(x).data


def test_load_state_dict_takes_tuples_and_numpy_numbers():
    np = pytest.importorskip("numpy")
    m = model()
    state = {k: tuple(np.float64(x) for x in v) if isinstance(v, list) else np.int64(3)
             for k, v in model(seed=5).state_dict().items()}
    m.load_state_dict(state)
    assert m.layers[0].neurons[0].w[0].data == float(state["layers.0.neurons.0.w"][0])
    assert m.layers[0].neurons[0].b.data == 3 and type(m.layers[0].neurons[0].b.data) is int


# ---------------------------------------------------------------- wrong states change nothing

def bad_state(change):
    state = model(seed=9).state_dict()
    change(state)
    return state


@pytest.mark.parametrize("change, error, words", [
    (lambda s: s.pop("layers.1.neurons.0.b"), ValueError, ["missing", "'layers.1.neurons.0.b'"]),
    (lambda s: s.update(extra=1.0), ValueError, ["unexpected", "'extra'"]),
    (lambda s: s["layers.1.neurons.0.w"].append(1.0), ValueError,
     ["layers.1.neurons.0.w", "expected 3 numbers, got 4"]),
    (lambda s: s["layers.1.neurons.0.w"].pop(), ValueError,
     ["layers.1.neurons.0.w", "expected 3 numbers, got 2"]),
    (lambda s: s.update({"layers.1.neurons.0.w": 1.0}), TypeError,
     ["layers.1.neurons.0.w", "list of 3 numbers", "'float'"]),
    (lambda s: s["layers.1.neurons.0.w"].__setitem__(2, "1.0"), TypeError,
     ["layers.1.neurons.0.w[2]", "'str'"]),
    (lambda s: s.update({"layers.1.neurons.0.b": None}), TypeError,
     ["layers.1.neurons.0.b", "'NoneType'"]),
    (lambda s: s.update({"layers.1.neurons.0.b": True}), TypeError,
     ["layers.1.neurons.0.b", "'bool'"]),
    (lambda s: s.update({"layers.1.neurons.0.b": [0.0]}), TypeError,
     ["layers.1.neurons.0.b", "'list'"]),
    (lambda s: s.update({"layers.1.neurons.0.b": 10**400}), ValueError,
     ["layers.1.neurons.0.b", "too large for a float64"])])
def test_a_wrong_state_is_rejected_naming_what_is_wrong_and_changes_nothing(change, error,
                                                                            words):
    m = model()
    before = snapshot(m)
    with pytest.raises(error) as e:
        m.load_state_dict(bad_state(change))     # the wrong entry is the last one checked
    assert all(w in str(e.value) for w in words), str(e.value)
    assert snapshot(m) == before


def test_load_state_dict_wants_a_dict():
    with pytest.raises(TypeError, match="dict"):
        model().load_state_dict([("layers.0.neurons.0.b", 0)])


# ---------------------------------------------------------------- save and load

SPECIAL = [0, 7, -3, 0.0, -0.0, 1 / 3, -2.5e-308, 5e-324, 1.7976931348623157e308, math.inf,
           -math.inf, math.nan, -math.nan,
           struct.unpack("<d", struct.pack("<Q", 0x7ff0_0000_dead_beef))[0]]   # a NaN payload


def test_save_and_load_keep_every_bit_and_every_int(tmp_path):
    a = model(nouts=(7, 1))
    for p, x in zip(a.parameters(), SPECIAL * 2):
        p.data = x
    save(a, tmp_path / "m.json")
    b = model(seed=2, nouts=(7, 1))
    assert load(b, tmp_path / "m.json") is b
    assert snapshot(b) == snapshot(a)
    assert {bits(x) for x in SPECIAL} <= set(snapshot(b))


def test_a_trained_model_saved_and_loaded_computes_bit_identical_outputs(tmp_path):
    a = model(nouts=(8, 8, 1))
    for p in a.parameters():
        p.data += random.gauss(0, 0.1)             # biases become floats
    save(a, str(tmp_path / "m.json"))              # a str path works as a Path does
    b = load(model(seed=3, nouts=(8, 8, 1)), str(tmp_path / "m.json"))
    xs = [[Value(random.uniform(-2, 2)) for _ in range(2)] for _ in range(20)]
    assert [b(x).data for x in xs] == [a(x).data for x in xs]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.integers(-2**53, 2**53)), min_size=3, max_size=3))
def test_any_float64_or_exact_int_round_trips(tmp_path_factory, xs):
    path = tmp_path_factory.mktemp("io") / "n.json"
    a, b = Neuron(2), Neuron(2)
    for p, x in zip(a.parameters(), xs):
        p.data = x
    save(a, path)
    load(b, path)
    assert snapshot(b) == snapshot(a) == [bits(x if type(x) is int else float(x)) for x in xs]


def test_the_file_is_plain_json_with_floats_as_float_hex(tmp_path):
    m = model()
    m.layers[0].neurons[0].b.data = 0.1
    save(m, tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["format"] == "micrograd-c state_dict" and doc["version"] == 1
    assert doc["state"]["layers.0.neurons.0.b"] == (0.1).hex()
    assert doc["state"]["layers.1.neurons.0.b"] == 0
    assert list(doc["state"]) == list(m.state_dict())
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]        # no temporary file left


def test_save_into_a_missing_directory_raises_and_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        save(model(), tmp_path / "no" / "m.json")
    assert not list(tmp_path.iterdir())


def saved(tmp_path, seed=9, **kwargs):
    path = tmp_path / "m.json"
    save(model(seed, **kwargs), path)
    return path


def rewrite(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


def check_rejected(path, error, words, **kwargs):
    m = model(**kwargs)
    before = snapshot(m)
    with pytest.raises(error) as e:
        load(m, path)
    assert all(w in str(e.value) for w in words), str(e.value)
    assert snapshot(m) == before


@pytest.mark.parametrize("saved_as, loaded_as, words", [
    ((16, 16, 1), (3, 1), ["unexpected 58 key(s): 'layers.0.neurons.3.w', "
                           "'layers.0.neurons.3.b', 'layers.0.neurons.4.w', ..."]),
    ((3, 1), (3, 2, 1), ["missing 4 key(s): 'layers.1.neurons.1.w', 'layers.1.neurons.1.b', "
                         "'layers.2.neurons.0.w', ..."]),
    ((3, 1), (4, 1), ["missing 2 key(s): 'layers.0.neurons.3.w', 'layers.0.neurons.3.b'"])])
def test_loading_into_a_model_of_other_layer_sizes_names_the_keys(tmp_path, saved_as,
                                                                  loaded_as, words):
    check_rejected(saved(tmp_path, nouts=saved_as), ValueError, ["does not fit"] + words,
                   nouts=loaded_as)


def test_loading_into_a_model_of_another_input_size_names_the_length(tmp_path):
    check_rejected(saved(tmp_path, nin=2), ValueError,
                   ["layers.0.neurons.0.w: expected 3 numbers, got 2"], nin=3)


@pytest.mark.parametrize("cut", [0, 1, 0.5, -3])
def test_a_truncated_file_is_rejected(tmp_path, cut):
    path = saved(tmp_path)
    text = path.read_text()
    path.write_text(text[:int(cut * len(text)) if isinstance(cut, float) else cut])
    check_rejected(path, ValueError, ["m.json", "not a model file", "truncated or corrupted"])


@pytest.mark.parametrize("change, error, words", [
    (lambda d: d.update(format="something else"), ValueError, ["not a model file", "format"]),
    (lambda d: d.update(version=2), ValueError, ["not a model file", "version 1"]),
    (lambda d: d.pop("state"), ValueError, ["not a model file"]),
    (lambda d: d["state"].update({"layers.1.neurons.0.b": "zero"}), ValueError,
     ["layers.1.neurons.0.b", "'zero' is not a float.hex string"]),
    (lambda d: d["state"].update({"layers.1.neurons.0.b": "1.5"}), ValueError,
     ["layers.1.neurons.0.b", "not a float.hex string"]),
    (lambda d: d["state"].update({"layers.1.neurons.0.b": "nan:0000000000000000"}), ValueError,
     ["layers.1.neurons.0.b", "not a float.hex string"]),
    (lambda d: d["state"].update({"layers.1.neurons.0.b": "0x1p99999"}), ValueError,
     ["layers.1.neurons.0.b", "not a float.hex string"]),
    (lambda d: d["state"]["layers.1.neurons.0.w"].__setitem__(2, 0.5), TypeError,
     ["layers.1.neurons.0.w[2]", "'float'"]),
    (lambda d: d["state"].update({"layers.1.neurons.0.b": None}), TypeError,
     ["layers.1.neurons.0.b", "'NoneType'"]),
    (lambda d: d["state"].update({"layers.1.neurons.0.b": False}), TypeError,
     ["layers.1.neurons.0.b", "'bool'"])])
def test_a_corrupted_file_is_rejected_naming_the_entry(tmp_path, change, error, words):
    check_rejected(rewrite(saved(tmp_path), change), error, words)


def test_json_constants_nan_and_infinity_are_rejected(tmp_path):
    path = saved(tmp_path)
    path.write_text(path.read_text().replace('"layers.1.neurons.0.b": 0', '"layers.1.neurons.0.b": NaN'))
    check_rejected(path, ValueError, ["NaN is not allowed"])


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])   # text, binary
def test_loading_a_pickle_runs_nothing_and_is_rejected(tmp_path, protocol):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "m.json"
    path.write_bytes(pickle.dumps(Evil(), protocol=protocol))
    check_rejected(path, ValueError, ["not a model file"])
    assert not marker.exists()


@pytest.mark.parametrize("call", [lambda p: save([1.0], p), lambda p: load({"b": 0}, p)])
def test_save_and_load_want_a_module(tmp_path, call):
    path = saved(tmp_path)
    with pytest.raises(TypeError, match="must be a micrograd.nn.Module, not"):
        call(path)


def test_deeply_nested_json_is_the_documented_value_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    check_rejected(path, ValueError, ["deep.json", "not a model file", "nests too deeply"])


def test_a_state_entry_nested_deeper_than_a_list_of_numbers_is_rejected(tmp_path):
    deep = [[[0]]]
    for _ in range(500):            # json parses it; a decoder that recursed might not
        deep = [deep]
    path = rewrite(saved(tmp_path), lambda d: d["state"].update({"layers.1.neurons.0.w": deep}))
    check_rejected(path, TypeError, ["layers.1.neurons.0.w[0]", "'list'"])


# ---------------------------------------------------------------- the file save() writes

def files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_save_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "run42.json").write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to("run42.json")                   # relative, as `ln -s` makes them
    a = model(seed=3)
    save(a, link)
    assert link.is_symlink() and os.readlink(link) == "run42.json"
    assert snapshot(load(model(), tmp_path / "run42.json")) == snapshot(a)
    assert files(tmp_path) == ["latest.json", "run42.json"]


def test_save_through_a_dangling_symlink_creates_its_target_as_open_does(tmp_path):
    (tmp_path / "mine").symlink_to("made.json")
    (tmp_path / "theirs").symlink_to("opened.json")
    save(model(), tmp_path / "mine")
    open(tmp_path / "theirs", "w").close()
    assert (tmp_path / "mine").is_symlink() and (tmp_path / "made.json").is_file()
    assert (tmp_path / "theirs").is_symlink() and (tmp_path / "opened.json").is_file()


def test_save_never_touches_a_file_named_like_a_temporary_one(tmp_path):
    mine = tmp_path / "m.json.tmp"
    mine.write_text("my notes")
    save(model(), tmp_path / "m.json")
    assert mine.read_text() == "my notes"
    assert files(tmp_path) == ["m.json", "m.json.tmp"]


def test_save_to_a_directory_is_is_a_directory_error_as_open_gives(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError) as theirs:
        open(tmp_path / "d", "w")
    with pytest.raises(IsADirectoryError) as ours:
        save(model(), tmp_path / "d")
    assert str(ours.value) == str(theirs.value)
    assert files(tmp_path) == ["d"] and not list((tmp_path / "d").iterdir())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_save_to_a_fifo_is_refused_before_anything_is_written(tmp_path):
    """open(fifo, 'w') would block until a reader comes; save() refuses at once (run in a
    thread with a timeout, in case it blocks), and the FIFO stays a FIFO."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    raised = []

    def save_to_fifo():
        try:
            save(model(), fifo)
        except BaseException as e:
            raised.append(e)

    t = threading.Thread(target=save_to_fifo, daemon=True)
    t.start()
    t.join(30)
    if t.is_alive():                # blocked opening the FIFO: let it go, then fail
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        pytest.fail("save() to a FIFO blocked")
    assert len(raised) == 1 and isinstance(raised[0], shutil.SpecialFileError), raised
    assert isinstance(raised[0], OSError) and "named pipe" in str(raised[0])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and files(tmp_path) == ["pipe"]


@pytest.fixture
def umask():
    """Set the process's umask for the test (pytest runs tests in one thread)."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002], ids=oct)
def test_a_new_file_gets_the_permissions_open_gives_it(tmp_path, umask, mask):
    umask(mask)
    open(tmp_path / "opened.json", "w").close()
    save(model(), tmp_path / "saved.json")
    assert mode(tmp_path / "saved.json") == mode(tmp_path / "opened.json")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("kept", [0o640, 0o604, 0o755], ids=oct)
def test_an_existing_file_keeps_its_permissions(tmp_path, umask, kept):
    umask(0o077)
    path = tmp_path / "m.json"
    path.write_text("old")
    os.chmod(path, kept)
    save(model(), path)
    assert mode(path) == kept
    assert snapshot(load(model(seed=4), path)) == snapshot(model())


def test_save_writes_the_file_to_disk_before_it_replaces_the_old_one(tmp_path, monkeypatch):
    calls = []
    for name in ("fsync", "replace"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda *a, real=real, name=name: (calls.append(name),
                                                                        real(*a))[1])
    save(model(), tmp_path / "m.json")
    assert calls == ["fsync", "replace"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_save_that_fails_midway_leaves_the_old_file_and_no_other(tmp_path, monkeypatch,
                                                                   failure):
    path = saved(tmp_path, seed=5)
    old = path.read_bytes()

    def fail(fd):
        raise failure

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(type(failure)):
        save(model(seed=6), path)
    assert path.read_bytes() == old and files(tmp_path) == ["m.json"]


def test_concurrent_saves_to_one_path_never_fail_and_a_load_never_sees_half_a_file(
        tmp_path, interleave):
    """Three threads save three models 100 times each to one path while a fourth loads
    it in a loop: every save succeeds, every load gives exactly one of the three."""
    path = tmp_path / "m.json"
    models = [model(seed=s, nin=8, nouts=(32, 32, 1)) for s in range(3)]
    save(models[0], path)
    expected = [snapshot(m) for m in models]
    done, seen = [threading.Event() for _ in models], []

    def saver(m, done):
        def run():
            try:
                for _ in range(100):
                    save(m, path)
            finally:
                done.set()
        return run

    def loader():
        into = model(seed=9, nin=8, nouts=(32, 32, 1))
        while not all(d.is_set() for d in done):
            seen.append(snapshot(load(into, path)))

    run_threads([saver(m, d) for m, d in zip(models, done)] + [loader], timeout=300)
    assert seen and all(s in expected for s in seen)
    assert files(tmp_path) == ["m.json"]


SAVER = """
import random, sys
from micrograd.nn import MLP, save
random.seed(int(sys.argv[2]))
m = MLP(8, [32, 32, 1])
for _ in range(100):
    save(m, sys.argv[1])
"""


def test_concurrent_saves_from_processes_never_fail_and_a_load_never_sees_half_a_file(
        tmp_path):
    path = tmp_path / "m.json"
    models = [model(seed=s, nin=8, nouts=(32, 32, 1)) for s in (10, 11)]
    save(models[0], path)
    expected = [snapshot(m) for m in models]
    savers = [subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(s)],
                               stderr=subprocess.PIPE, text=True) for s in (10, 11)]
    into, loads = model(nin=8, nouts=(32, 32, 1)), 0
    try:
        deadline = time.monotonic() + 300
        while any(p.poll() is None for p in savers) and time.monotonic() < deadline:
            assert snapshot(load(into, path)) in expected
            loads += 1
        errors = [p.communicate(timeout=60)[1] for p in savers]
    finally:
        for p in savers:
            p.kill()
    assert [p.returncode for p in savers] == [0, 0], errors
    assert loads > 0 and files(tmp_path) == ["m.json"]

"""The Keras backend: resolved as Keras resolves it, checked in one line, part of a run's identity."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest

from blockbench.core import backends
from blockbench.core.backends import (
    DEFAULT_BACKEND,
    SUPPORTED_BACKENDS,
    backend_version,
    check_backend,
    keras_backend_name,
    keras_home,
)
from blockbench.core.errors import UsageError
from blockbench.core.spec import RunSpec
from tests.factories import make_spec


@pytest.fixture
def no_keras(monkeypatch, tmp_path):
    """A process where Keras is not imported yet, with an empty Keras home."""
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


def test_the_default_is_tensorflow(no_keras):
    assert DEFAULT_BACKEND == "tensorflow" and SUPPORTED_BACKENDS == ("tensorflow", "jax")
    assert keras_backend_name() == "tensorflow" == check_backend()


def test_the_environment_wins_over_keras_json(no_keras, monkeypatch):
    (no_keras / "keras.json").write_text(json.dumps({"backend": "tensorflow"}))
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert keras_backend_name() == "jax" == check_backend()
    monkeypatch.setenv("KERAS_BACKEND", "")  # Keras ignores an empty value
    assert keras_backend_name() == "tensorflow"


def test_keras_json_in_keras_home_names_the_backend(no_keras):
    (no_keras / "keras.json").write_text(json.dumps({"floatx": "float32", "backend": "jax"}))
    assert keras_home() == no_keras and keras_backend_name() == "jax"
    (no_keras / "keras.json").write_text("{not json")  # Keras ignores it too
    assert keras_backend_name() == "tensorflow"


def test_without_keras_home_an_unwritable_home_falls_back_to_tmp(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert keras_home() == tmp_path / ".keras"
    monkeypatch.setattr(backends.os, "access", lambda path, mode: False)
    assert str(keras_home()) == "/tmp/.keras"


def test_keras_already_imported_decides(monkeypatch):
    class FakeKeras:
        class backend:
            @staticmethod
            def backend() -> str:
                return "jax"

    monkeypatch.setitem(sys.modules, "keras", FakeKeras)
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert keras_backend_name() == "jax"


def test_names_are_lower_cased():
    assert check_backend("JAX") == "jax" and check_backend(" TensorFlow ") == "tensorflow"


def test_torch_is_not_supported_yet_in_one_line(no_keras, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    with pytest.raises(UsageError) as info:
        check_backend()
    assert str(info.value) == ("Keras backend 'torch' (KERAS_BACKEND) is not supported yet; "
                               "use tensorflow or jax")
    assert info.value.exit_code == 2


@pytest.mark.parametrize("name", ["numpy", "openvino", "tensorflw"])
def test_other_backends_are_refused_naming_the_value_and_the_valid_ones(name):
    with pytest.raises(UsageError) as info:
        check_backend(name)
    message = str(info.value)
    assert message == f"Keras backend {name!r} is not supported by blockbench; use tensorflow or jax"


def test_a_bad_backend_in_keras_json_names_the_file(no_keras):
    (no_keras / "keras.json").write_text(json.dumps({"backend": "numpy"}))
    with pytest.raises(UsageError, match=r"'numpy' \(.*keras\.json\) is not supported"):
        check_backend()


def test_backend_version_reads_the_installed_distributions():
    keras = metadata.version("keras")
    assert backend_version("tensorflow") == f"tensorflow {metadata.version('tensorflow')}, keras {keras}"
    assert backend_version("jax") == (f"jax {metadata.version('jax')}, "
                                      f"jaxlib {metadata.version('jaxlib')}, keras {keras}")
    assert backend_version("no-such-backend") == f"keras {keras}"  # missing packages are left out


def test_resolving_the_backend_imports_no_backend():
    code = ("import sys; from blockbench.core.backends import check_backend, backend_version; "
            "check_backend(); backend_version('jax'); backend_version('tensorflow'); "
            "print(sorted(m for m in ('keras', 'jax', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"KERAS_BACKEND": "jax", "PATH": ""})
    assert out.stdout.strip() == "[]"


# The backend in a run's identity.

def test_a_tensorflow_spec_hashes_as_before_the_backend_existed():
    spec = make_spec("block:2")
    assert spec.backend == "tensorflow"
    assert spec.run_hash.startswith("025029181cf9")  # the hash it always had (see test_records)
    assert "backend" not in spec.hashed() and spec.to_dict()["backend"] == "tensorflow"


def test_a_jax_run_is_another_identity_and_round_trips():
    tf, jax = make_spec("block:2"), make_spec("block:2", backend="jax")
    assert jax.run_hash != tf.run_hash and jax.hashed()["backend"] == "jax"
    assert RunSpec.from_dict(jax.to_dict()) == jax
    assert RunSpec.from_dict(json.loads(json.dumps(jax.to_dict()))).run_hash == jax.run_hash
    old = tf.to_dict()
    del old["backend"]  # a spec written before the field existed
    assert RunSpec.from_dict(old) == tf and tf.with_(backend="jax") == jax

"""Import and register a plugin module in a fresh interpreter, and report what it cost.

The contract suites use this to check that a plugin is cheap to load: a test
process has usually imported TensorFlow already, so only a fresh interpreter
can tell whether the plugin module itself imports it.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

#: Packages a plugin module must not import while it is imported or registers.
HEAVY_PACKAGES = ("tensorflow", "keras", "tf_keras", "torch", "jax")

#: Upper bound for running a module's ``register_*`` hooks (import time excluded).
MAX_REGISTER_SECONDS = 1.0

_CHILD = r"""
import importlib, json, sys, time
heavy = set(sys.argv[2].split(","))
before = sorted({m.split(".")[0] for m in sys.modules} & heavy)
start = time.perf_counter()
module = importlib.import_module(sys.argv[1])
imported = time.perf_counter()
after_import = sorted({m.split(".")[0] for m in sys.modules} & heavy)

import pluggy
from blockbench.plugin import hookspecs
from blockbench.plugin.manager import collect

def type_name(obj):  # same as blockbench.testing.probe.type_name, without importing pytest
    target = obj if hasattr(obj, "__qualname__") else type(obj)
    return f"{target.__module__}.{target.__qualname__}"

pm = pluggy.PluginManager("blockbench")
pm.add_hookspecs(hookspecs)
errors = []
try:
    pm.register(module, name=sys.argv[1])
    pm.check_pending()
except Exception as exc:
    errors.append(f"{type(exc).__name__}: {exc}")
registered_start = time.perf_counter()
components = collect(pm, errors)
done = time.perf_counter()
print(json.dumps({
    "heavy_before": before,
    "heavy_after_import": after_import,
    "heavy_after_register": sorted({m.split(".")[0] for m in sys.modules} & heavy),
    "import_seconds": imported - start,
    "register_seconds": done - registered_start,
    "entries": {
        kind: [
            {"name": e.name, "type": type_name(e.factory)}
            for e in components.registry(kind)
        ]
        for kind in ("backbone", "dataset", "partition", "policy")
    },
    "errors": errors,
}))
"""


@dataclass(frozen=True)
class ProbeResult:
    """What importing and registering one plugin module did in a fresh interpreter.

    Attributes:
        module: the dotted module name probed.
        heavy_imports: heavy packages (see HEAVY_PACKAGES) present after registering.
        heavy_at_import: heavy packages present right after importing the module.
        import_seconds: time to import the module.
        register_seconds: time to run all of its ``register_*`` hooks.
        entries: per kind, ``{"name", "type"}`` of each registered component;
            ``type`` is ``module.QualName`` of the factory (its class for instances).
        errors: registration errors, one line each (also a crash of the probe).
    """

    module: str
    heavy_imports: list[str]
    heavy_at_import: list[str]
    import_seconds: float
    register_seconds: float
    entries: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def names(self, kind: str) -> list[str]:
        """Names registered for ``kind`` ("backbone", "dataset", "partition", "policy")."""
        return [e["name"] for e in self.entries.get(kind, [])]


def type_name(obj: object) -> str:
    """``module.QualName`` as the probe reports it: a class's own name, an instance's class."""
    target = obj if hasattr(obj, "__qualname__") else type(obj)
    return f"{target.__module__}.{target.__qualname__}"


@functools.cache
def probe_plugin(module: str, timeout: float = 120.0) -> ProbeResult:
    """Import ``module`` and call its hooks in a fresh interpreter (cached per process).

    The child sees the same ``sys.path`` as this process, so modules that tests
    put on the path (or that are not installed) are found.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, module, ",".join(HEAVY_PACKAGES)],
        capture_output=True, text=True, env=env, timeout=timeout, check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return ProbeResult(module, [], [], 0.0, 0.0, {}, [f"importing {module!r} failed: {tail}"])
    data = json.loads(lines[-1])
    return ProbeResult(
        module=module,
        heavy_imports=sorted(set(data["heavy_after_register"]) - set(data["heavy_before"])),
        heavy_at_import=sorted(set(data["heavy_after_import"]) - set(data["heavy_before"])),
        import_seconds=float(data["import_seconds"]),
        register_seconds=float(data["register_seconds"]),
        entries=data["entries"],
        errors=list(data["errors"]),
    )


def registration_problems(
    result: ProbeResult, kind: str, name: str | None, factory: object
) -> list[str]:
    """Everything wrong with a module's registration, as readable lines (empty when fine)."""
    problems = [f"registration error: {e}" for e in result.errors]
    if result.heavy_at_import:
        problems.append(f"importing {result.module!r} imports {', '.join(result.heavy_at_import)}; "
                        "import heavy packages inside build()/load()/split() only")
    elif result.heavy_imports:
        problems.append(f"registering {result.module!r} imports {', '.join(result.heavy_imports)}; "
                        "register factories, never built models")
    if result.register_seconds > MAX_REGISTER_SECONDS:
        problems.append(f"registering {result.module!r} took {result.register_seconds:.2f} s "
                        f"(limit {MAX_REGISTER_SECONDS} s); registration must be cheap")
    registered = result.entries.get(kind, [])
    if not registered and not result.errors:
        problems.append(f"{result.module!r} registers no {kind}; set plugin_module to the module "
                        "your entry point names")
    if name is not None:
        match = [e for e in registered if e["name"] == name]
        if not match:
            problems.append(f"{result.module!r} does not register {kind} {name!r}; it registers "
                            f"{result.names(kind) or 'none'}")
        elif match[0]["type"] != type_name(factory):
            problems.append(f"{kind} {name!r} is registered as {match[0]['type']}, "
                            f"but the suite tests {type_name(factory)}")
    return problems


def check_registration(kind: str, component: object, module: str | None, name: str | None) -> None:
    """Fail the calling test if ``module`` (default: the component's module) registers badly."""
    import pytest

    module = module or getattr(component, "__module__", None) or type(component).__module__
    problems = registration_problems(probe_plugin(module), kind, name, component)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)

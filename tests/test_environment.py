"""pyproject.toml, requirements.lock, environment.yml and the installed .venv must agree."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

import pytest
import yaml

from coursebuild.catalog import REPO


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def public(version: str) -> str:
    """Drop a local version label: 2.13.0+cpu satisfies ==2.13.0."""
    return version.split("+")[0]


def direct_pins() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for dep in deps:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;,]+)", dep)
        assert match, f"pyproject.toml: {dep!r} must be pinned exactly (name==version)"
        pins[canonical(match[1])] = match[2]
    return pins


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
        assert match, f"requirements.lock: {line!r} is not an exact pin"
        pins[canonical(match[1])] = match[2]
    return pins


def test_every_direct_dependency_is_locked_at_the_same_version():
    lock = lock_pins()
    wrong = {name: (version, lock.get(name)) for name, version in direct_pins().items()
             if public(lock.get(name, "missing")) != version}
    assert not wrong, f"pyproject.toml pin vs requirements.lock (run `make lock`): {wrong}"


def test_torch_is_the_cpu_build():
    assert lock_pins()["torch"].endswith("+cpu"), "a non-CPU torch pulls several GB of CUDA libraries"


def test_environment_yml_installs_the_lock_on_python_311():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-r requirements.lock" in pip_section and "-e ." in pip_section
    assert not [d for d in pip_section if re.match(r"[A-Za-z]", d)], \
        "environment.yml must not pin packages of its own: it installs requirements.lock"


def test_installed_environment_matches_the_lock():
    lock = lock_pins()
    stale = {}
    for name, version in lock.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if public(installed) != public(version):
            stale[name] = (version, installed)
    if stale:
        pytest.fail(f"the environment differs from requirements.lock (run `make install`): {stale}")

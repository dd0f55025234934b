"""The release path works end to end: build, install into a fresh environment, publish, install.

What a host sees: the sdist and the wheel ``tasks.py build`` makes, the wheel
installed into a new virtual environment (core, then ``[postgres]``) outside
the repository, the quickstart story and ``velocity-domain db heads`` run from
there, a consumer script checked with ``mypy --strict`` against the installed
package, and a round trip through a private index this test starts on
127.0.0.1 (pypiserver, ``twine upload``, ``pip install --index-url``).

Dependencies are installed from the versions pinned in ``requirements/dev.lock``.
The tests are marked ``release``: they run in the full suite, and a quick
development loop leaves them out with ``-m "not release"``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import velocity_domain
from velocity_domain.adapters.postgres import migrate

pytestmark = pytest.mark.release

ROOT = Path(__file__).resolve().parent.parent
VERSION = velocity_domain.__version__
BIN = "Scripts" if os.name == "nt" else "bin"

CONSUMER = '''\
"""A host's code, type-checked against the installed package."""

from velocity_domain import Principal, Velocity
from velocity_domain.errors import ApprovalRequired, VelocityError


def register(velocity: Velocity, name: str, phone: str) -> str:
    office = Principal.system("front-office")
    person = velocity.contacts.create(office, full_name=name, primary_phone=phone)
    return str(person.person_id)


def refused(error: VelocityError) -> bool:
    return isinstance(error, ApprovalRequired)


if __name__ == "__main__":
    print("registered", register(Velocity.in_memory(), "Asha Rao", "098300 12345"))
'''


def _tasks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("velocity_tasks", ROOT / "tasks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins(lock: Path, out: Path) -> Path:
    """Write the lock's pins without their hashes, as a pip constraints file."""
    text = lock.read_text().replace("\\\n", " ")
    pins = []
    for line in text.splitlines():
        requirement = re.split(r"\s--hash=", line, maxsplit=1)[0].strip()
        if requirement and not requirement.startswith("#"):
            pins.append(requirement)
    out.write_text("\n".join(pins) + "\n")
    return out


def _call(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(  # noqa: PLW1510 - the return code is checked below, with the output
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built by the command ``tasks.py build`` runs."""
    out = tmp_path_factory.mktemp("dist")
    _call(_tasks().build_command(sys.executable, out), cwd=ROOT)
    return out


def test_the_build_is_one_version_with_its_license_and_sources(dist: Path) -> None:
    sdist = dist / f"velocity_domain-{VERSION}.tar.gz"
    wheel = dist / f"velocity_domain-{VERSION}-py3-none-any.whl"
    assert sorted(p.name for p in dist.iterdir()) == sorted([sdist.name, wheel.name])
    with tarfile.open(sdist) as archive:
        top = {Path(name).parts[1] for name in archive.getnames() if len(Path(name).parts) > 1}
    assert {"src", "tests", "docs", "examples", "LICENSE", "CHANGELOG.md"} <= top
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"velocity_domain-{VERSION}.dist-info/METADATA").decode()
    assert f"velocity_domain-{VERSION}.dist-info/licenses/LICENSE" in names
    assert "velocity_domain/py.typed" in names
    assert f"Version: {VERSION}\n" in metadata
    assert "License-Expression: MIT" in metadata
    extras = re.findall(r"^Provides-Extra: (\S+)$", metadata, flags=re.MULTILINE)
    assert extras == ["http", "postgres"], "the internal dev tools must not be a published extra"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def private_index(tmp_path: Path) -> Iterator[str]:
    """A pypiserver on 127.0.0.1 that accepts uploads without a password; stopped afterwards."""
    packages = tmp_path / "index"
    packages.mkdir()
    port = _free_port()
    serve = [sys.executable, "-m", "pypiserver", "run", "-i", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        [*serve, "-a", ".", "-P", ".", "--disable-fallback", str(packages)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/simple/", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, "pypiserver exited while starting"
                assert time.monotonic() < deadline, "pypiserver did not start within 30 s"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_host_installs_runs_type_checks_and_publishes_the_wheel(
    dist: Path, tmp_path: Path, private_index: str
) -> None:
    host = tmp_path / "host"  # outside the repository: nothing resolves to src/
    host.mkdir()
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = str(env_dir / BIN / "python")
    command = str(env_dir / BIN / "velocity-domain")
    pins = _pins(ROOT / "requirements" / "dev.lock", tmp_path / "pins.txt")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    pip += ["-c", str(pins)]
    wheel = dist / f"velocity_domain-{VERSION}-py3-none-any.whl"

    # The core install: the in-memory quickstart story runs; the CLI names the missing extra.
    _call([*pip, str(wheel)], cwd=host)
    where = _call([python, "-c", "import velocity_domain; print(velocity_domain.__file__)"], host)
    assert str(env_dir) in where
    story = _call([python, str(ROOT / "examples" / "quickstart.py")], cwd=host)
    assert "2. The lead was converted into an opportunity at stage new." in story
    missing = subprocess.run(  # noqa: PLW1510 - the failure is what is checked
        [command, "db", "heads"], cwd=host, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode != 0
    assert "velocity-domain[postgres]" in missing.stderr

    # The [postgres] extra: the migrations ship in the wheel.
    _call([*pip, f"{wheel}[postgres]", "mypy"], cwd=host)
    assert _call([command, "db", "heads"], cwd=host).strip() == migrate.head_revision()
    assert "CREATE TABLE crm_people" in _call([command, "db", "upgrade", "--sql"], cwd=host)
    assert _call([command, "--version"], cwd=host).strip() == f"velocity-domain {VERSION}"

    # A consumer's code type-checks with mypy --strict against the installed package, and runs.
    (host / "consumer.py").write_text(CONSUMER)
    checked = _call([python, "-m", "mypy", "--strict", "--no-incremental", "consumer.py"], host)
    assert "Success: no issues found in 1 source file" in checked
    assert _call([python, "consumer.py"], cwd=host).startswith("registered ")

    # The private index: upload both files with twine, install the package from that index only.
    upload = [sys.executable, "-m", "twine", "upload", "--non-interactive"]
    upload += ["--repository-url", f"{private_index}/", "-u", "ci", "-p", "unused"]
    _call([*upload, *sorted(str(p) for p in dist.iterdir())], cwd=tmp_path)
    listed = urllib.request.urlopen(f"{private_index}/simple/velocity-domain/").read().decode()
    assert f"velocity_domain-{VERSION}.tar.gz" in listed
    assert f"velocity_domain-{VERSION}-py3-none-any.whl" in listed
    only_private = {**os.environ, "PIP_EXTRA_INDEX_URL": "", "PIP_FIND_LINKS": ""}
    from_index = [python, "-m", "pip", "--disable-pip-version-check", "install", "-v"]
    from_index += ["--no-cache-dir", "--force-reinstall", "--no-deps"]
    from_index += ["--index-url", f"{private_index}/simple/", f"velocity-domain=={VERSION}"]
    installed = _call(
        from_index,
        cwd=host,
        env=only_private,
    )
    assert f"{private_index}/packages/velocity_domain-{VERSION}-py3-none-any.whl" in installed
    assert _call([command, "--version"], cwd=host).strip() == f"velocity-domain {VERSION}"

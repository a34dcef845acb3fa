"""The built wheel serves the widget: installed outside the source tree and run from an empty
directory, it answers ``/widget.js``, the CAPTCHA module and the demo with the source tree's
bytes and ETags (the files are package data, read through ``importlib.resources``)."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from tests.servers import ROOT, free_port, stop_group, wait_until

STATIC = ROOT / "service" / "static"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the wheel installed; its dependencies are the test run's."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheels = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("callgate-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies come from the test run's environment (a path line, not its .pth files: the
    # editable install of the source tree stays out); callgate itself only from the wheel.
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return venv


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    empty = tmp_path_factory.mktemp("empty")
    port = free_port()
    env = {
        "PATH": f"{installed / 'bin'}:/usr/bin:/bin",
        "HOME": str(empty),
        "CALLGATE_BIND": f"127.0.0.1:{port}",
        "CALLGATE_DATABASE_URL": f"sqlite:///{empty / 'callgate.db'}",
    }
    log = (empty / "serve.log").open("ab")
    process = subprocess.Popen(
        [str(installed / "bin" / "callgate"), "serve"],
        cwd=empty,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{url}/healthz", timeout=1).ok, 60, f"wheel on {url}")
        yield url
    finally:
        stop_group(process)
        log.close()


def test_the_installed_package_is_the_wheel_not_the_source_tree(installed: Path) -> None:
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import service; print(service.__file__)"],
        cwd=installed,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(installed)), where


@pytest.mark.parametrize("path", ["/widget.js", "/widget-dialog.js", "/widget-captcha.js"])
def test_the_wheel_serves_the_widget_files_with_the_source_trees_bytes_and_etags(
    served: str, path: str, client: FlaskClient
) -> None:
    answer = requests.get(served + path, headers={"Accept-Encoding": "identity"}, timeout=5)
    assert answer.status_code == 200
    assert answer.content == (STATIC / path.lstrip("/")).read_bytes()
    assert answer.headers["ETag"] == client.get(path).headers["ETag"]


def test_the_wheel_serves_the_demo_and_the_widget_config(served: str, client: FlaskClient) -> None:
    demo = requests.get(served + "/", timeout=5)
    assert demo.status_code == 200
    ours = client.get("/").get_data(as_text=True)
    # Equal but for the per-visit form token and CSP nonce.
    per_visit = re.compile(r'(value|nonce)="[^"]*"')
    assert per_visit.sub("", demo.text) == per_visit.sub("", ours)
    config = requests.get(served + "/api/v1/widget-config?lang=uk", timeout=5).json()
    assert config["lang"] == "uk" and config["texts"]["launcher"]

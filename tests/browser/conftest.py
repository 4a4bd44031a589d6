"""The whole system as processes (`pasokh up`) and headless Debian Chromium driven by Playwright.

Chromium is /usr/bin/chromium (scripts/ensure-tools.sh installs Debian's package); Playwright never
downloads a browser. Screenshots of every page go to ``PASOKH_SCREENSHOTS`` (default var/screenshots),
kept as CI artifacts; docs/web.md shows a copy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from pasokh.infra.local import LocalInfra
from services.settings import KafkaSettings, MongoSettings, PasokhSettings
from tests.support.system import PasokhUp

CHROMIUM = "/usr/bin/chromium"
# As this machine kind's notes say: no sandbox as root, and no background traffic to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfra]:
    """Kafka and MongoDB of the browser tests alone: the services consume whole topics as one group."""
    settings = PasokhSettings(kafka=KafkaSettings(), mongo=MongoSettings())
    local = LocalInfra(settings, tmp_path_factory.mktemp("browser-infra"), log=False)
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="package")
def system(infra: LocalInfra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PasokhUp]:
    """`pasokh up` on those servers, with a database of its own."""
    up = PasokhUp(
        tmp_path_factory.mktemp("up"),
        {
            **infra.env(),
            "PASOKH_MONGO__DATABASE": f"pasokh_browser_{uuid.uuid4().hex[:8]}",
            "PASOKH_SMS__PROVIDER": "log",
            "PASOKH_INTAKE__RATE_LIMITS__SUBMIT_PER_MINUTE": "100000",
            "PASOKH_INTAKE__RATE_LIMITS__SUBMIT_BURST": "1000",
        },
    ).start()
    yield up
    assert up.stop() == 0, up.output()[-4000:]


def pasokh(system: PasokhUp, *args: str, stdin: str | None = None) -> str:
    """Run the ``pasokh`` command against the system's database."""
    command = Path(sys.executable).with_name("pasokh")
    result = subprocess.run(
        [str(command), *args], env=system.env, input=stdin, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver (it talks to the browser; it brings none)."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A phone-sized page in a fresh context (no cookies), JavaScript off: the pages must not need it."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, locale="fa-IR"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture(scope="package")
def screenshots() -> Path:
    """Where the screenshots go."""
    directory = Path(os.environ.get("PASOKH_SCREENSHOTS", REPO / "var" / "screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser is marked browser."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)

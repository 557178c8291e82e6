"""A headless Chromium driven by Selenium, acting as a Label Studio annotator.

Input: a running Label Studio (its URL) and the Debian ``chromium`` + ``chromium-driver`` binaries.
Output: what the annotator sees (texts, highlights, screenshots) and what they do (log in, select
words with the mouse, press keys, submit).

Invariants
    * Chromium runs headless with no network features, in a fresh empty ``--user-data-dir``; it
      and its chromedriver are stopped by :meth:`Annotator.quit` (by the driver, never by name).
    * Text is selected with real pointer events at the screen positions of the characters (a
      drag from the first to the last character, or a double-click on a word), so the editor
      computes the offsets itself, exactly as for a person with a mouse.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--lang=en-US",
    "--force-device-scale-factor=1",
    "--window-size=1280,900",
)
"""How Chromium is started: headless, no call home, a laptop-sized window."""

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver",)


def find_binaries() -> tuple[str | None, str | None]:
    """``(chromium, chromedriver)`` paths, or None for each one missing.

    Env ``DATASET_BUILDER_CHROMIUM`` / ``DATASET_BUILDER_CHROMEDRIVER`` override the Debian paths.
    """

    def first(env: str, candidates: tuple[str, ...], name: str) -> str | None:
        chosen = os.environ.get(env)
        if chosen:
            return chosen if os.access(chosen, os.X_OK) else None
        for c in candidates:
            if os.access(c, os.X_OK):
                return c
        return shutil.which(name)

    return (first("DATASET_BUILDER_CHROMIUM", CHROMIUM_CANDIDATES, "chromium"),
            first("DATASET_BUILDER_CHROMEDRIVER", CHROMEDRIVER_CANDIDATES, "chromedriver"))


# Finds the n-th occurrence of a string in the text of the Label Studio text object and returns the
# screen boxes of the whole string, of its first and of its last character.
_FIND_JS = """
const [needle, nth] = arguments;
const root = document.querySelector('.lsf-htx-richtext');
if (!root) return null;
const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
const box = (n, a, b) => {
  const r = document.createRange(); r.setStart(n, a); r.setEnd(n, b);
  const q = r.getBoundingClientRect();
  return {left: q.left, right: q.right, top: q.top, bottom: q.bottom};
};
let node, seen = 0;
while ((node = walker.nextNode())) {
  let i = node.data.indexOf(needle);
  while (i >= 0) {
    if (seen === nth) {
      return {word: box(node, i, i + needle.length), first: box(node, i, i + 1),
              last: box(node, i + needle.length - 1, i + needle.length)};
    }
    seen++;
    i = node.data.indexOf(needle, i + 1);
  }
}
return null;
"""


@dataclass(frozen=True)
class Highlight:
    """A region as the editor draws it: the highlighted text and its label (``data-label``)."""

    text: str
    label: str


class Annotator:
    """One annotator in one headless Chromium. Use as a context manager, or call :meth:`quit`."""

    def __init__(self, base_url: str, *, chromium: str, chromedriver: str, artifacts: Path):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.base_url = base_url.rstrip("/")
        self.artifacts = Path(artifacts)
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={self._profile}")
        try:
            self.driver = webdriver.Chrome(service=Service(chromedriver), options=opts)
        except Exception:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(60)

    # -- life cycle ---------------------------------------------------------------------------

    def quit(self) -> None:
        try:
            self.driver.quit()  # stops Chromium and the chromedriver it started
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Annotator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.quit()

    # -- waiting ------------------------------------------------------------------------------

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Poll ``predicate`` until it returns something truthy; fail with ``what`` and a screenshot."""
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = predicate()
                if value:
                    return value
            except Exception as exc:  # noqa: BLE001 (the page is still changing)
                last_exc = exc
            time.sleep(0.1)
        shot = self.screenshot(f"timeout-{_slug(what)}")
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what} at {self.driver.current_url} "
            f"(screenshot {shot}; last error {last_exc!r})"
        )

    # -- accounts -----------------------------------------------------------------------------

    def _send_account_form(self, page: str, form: str, email: str, password: str) -> None:
        """Open ``page``, type ``email`` and ``password`` into its form ``form`` and submit it."""
        from selenium.webdriver.common.by import By

        d = self.driver
        d.get(f"{self.base_url}{page}")
        d.find_element(By.ID, "email").send_keys(email)
        d.find_element(By.ID, "password").send_keys(password)
        d.find_element(By.CSS_SELECTOR, f"#{form} button[type=submit]").click()

    def sign_up(self, email: str, password: str) -> None:
        """Create an account with Label Studio's own sign-up form (it logs the new user in)."""
        self._send_account_form("/user/signup/", "signup-form", email, password)
        self.wait_for(f"the sign-up of {email}", lambda: self.whoami().get("email") == email)

    def log_out(self) -> None:
        """Log out (``/logout``) and wait until the session is really gone."""
        self.driver.get(f"{self.base_url}/logout")
        self.wait_for("the logout", lambda: "email" not in self.whoami())

    def log_in(self, email: str, password: str) -> None:
        """Log in with the login form."""
        self._send_account_form("/user/login/", "login-form", email, password)
        self.wait_for("the page after login", lambda: "/user/login" not in self.driver.current_url)

    def whoami(self) -> dict[str, Any]:
        """The logged-in user as the browser's session sees it (``/api/current-user/whoami``)."""
        return self.driver.execute_async_script(
            "const done = arguments[0];"
            "fetch('/api/current-user/whoami', {credentials: 'same-origin'}).then(r => r.json()).then(done)"
            ".catch(e => done({error: String(e)}));"
        )

    # -- the labelling screen -----------------------------------------------------------------

    def open_stream(self, project_id: int) -> list[str]:
        """Open the project's labelling stream ("Label All Tasks") and wait for the task text.

        Returns the paragraphs of the instructions pop-up Label Studio shows first (it is closed).
        """
        from selenium.webdriver.common.by import By

        d = self.driver
        d.get(f"{self.base_url}/projects/{project_id}/data?labeling=1")
        modal = self.wait_for(
            "the instructions pop-up",
            lambda: [e for e in d.find_elements(By.CSS_SELECTOR, ".lsf-modal-ls__body") if e.is_displayed()],
        )[0]
        paragraphs = [line.strip() for line in modal.text.splitlines() if line.strip()]
        self.key("ESCAPE")
        self.wait_for("the instructions pop-up to close",
                      lambda: not [e for e in d.find_elements(By.CSS_SELECTOR, ".lsf-modal-ls__body") if e.is_displayed()])
        self.wait_for("the task text", lambda: self.task_text())
        return paragraphs

    def task_text(self) -> str:
        from selenium.webdriver.common.by import By

        found = self.driver.find_elements(By.CSS_SELECTOR, ".lsf-htx-richtext")
        return found[0].get_attribute("textContent") if found else ""

    def visible_texts(self, css: str) -> list[str]:
        """Text of the displayed elements matching ``css``."""
        from selenium.webdriver.common.by import By

        return [e.text.strip() for e in self.driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]

    def label_buttons(self) -> dict[str, str]:
        """``{label: hotkey shown}`` for the displayed label buttons above the text."""
        from selenium.webdriver.common.by import By

        out = {}
        for e in self.driver.find_elements(By.CSS_SELECTOR, ".lsf-label"):
            if not e.is_displayed():
                continue
            name = e.find_elements(By.CSS_SELECTOR, ".lsf-label__text")
            key = e.find_elements(By.CSS_SELECTOR, ".lsf-label__hotkey")
            if name:
                out[name[0].text.strip()] = key[0].text.strip() if key else ""
        return out

    def choices(self) -> dict[str, bool]:
        """``{choice: checked}`` for the displayed choice radio buttons of the config."""
        from selenium.webdriver.common.by import By

        out = {}
        for e in self.driver.find_elements(By.CSS_SELECTOR, "input.ant-radio-input"):
            label = e.find_element(By.XPATH, "ancestor::label[1]")
            if label.is_displayed():
                out[e.get_attribute("name")] = e.is_selected()
        return out

    def highlights(self) -> list[Highlight]:
        """The regions drawn over the text, in document order."""
        from selenium.webdriver.common.by import By

        out = []
        for e in self.driver.find_elements(By.CSS_SELECTOR, ".lsf-htx-richtext .htx-highlight"):
            label = (e.get_attribute("data-label") or "").split(":", 1)[-1]
            out.append(Highlight(text=e.get_attribute("textContent"), label=label))
        return out

    def font_size(self, css: str) -> float:
        """Computed font size in px of the first element matching ``css``."""
        from selenium.webdriver.common.by import By

        el = self.driver.find_element(By.CSS_SELECTOR, css)
        return float(self.driver.execute_script("return parseFloat(getComputedStyle(arguments[0]).fontSize)", el))

    # -- keyboard and mouse -------------------------------------------------------------------

    def key(self, name: str) -> None:
        """Press one key: a character (``"p"``) or a Selenium ``Keys`` name (``"ESCAPE"``)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(self.driver).send_keys(getattr(Keys, name) if len(name) > 1 else name).perform()

    def ctrl_enter(self) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(self.driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()

    def _boxes(self, needle: str, nth: int) -> dict[str, Any]:
        boxes = self.driver.execute_script(_FIND_JS, needle, nth)
        if not boxes:
            raise AssertionError(f"{needle!r} (occurrence {nth}) is not in the task text {self.task_text()!r}")
        return boxes

    def _pointer(self, steps: list[tuple[str, int, int]]) -> None:
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        ab = ActionBuilder(self.driver)
        for what, x, y in steps:
            ab.pointer_action.move_to_location(x, y)
            if what == "down":
                ab.pointer_action.pointer_down()
            elif what == "up":
                ab.pointer_action.pointer_up()
            elif what == "click":
                ab.pointer_action.click()
        ab.perform()

    def drag_select(self, needle: str, nth: int = 0) -> None:
        """Select ``needle`` by dragging the mouse from its first to its last character.

        The drag starts left of the middle of the first character and ends right of the middle
        of the last one, so the browser snaps the selection to exactly these characters.
        """
        b = self._boxes(needle, nth)
        first, last = b["first"], b["last"]
        x0 = math.ceil(first["left"] + 0.01)
        x1 = math.floor(last["right"] - 0.01)
        if not (x0 < (first["left"] + first["right"]) / 2 and x1 > (last["left"] + last["right"]) / 2):
            raise AssertionError(f"characters of {needle!r} too narrow to hit with whole pixels: {b}")
        y = int((b["word"]["top"] + b["word"]["bottom"]) / 2)
        self._pointer([("move", x0, y), ("down", x0, y), ("move", (x0 + x1) // 2, y), ("move", x1, y), ("up", x1, y)])

    def double_click(self, word: str, nth: int = 0) -> None:
        """Double-click the middle of ``word`` (the browser selects the word under the pointer)."""
        w = self._boxes(word, nth)["word"]
        x, y = int((w["left"] + w["right"]) / 2), int((w["top"] + w["bottom"]) / 2)
        self._pointer([("move", x, y), ("click", x, y), ("click", x, y)])

    def click(self, word: str, nth: int = 0) -> None:
        """One click in the middle of ``word`` (on a region: selects it)."""
        w = self._boxes(word, nth)["word"]
        x, y = int((w["left"] + w["right"]) / 2), int((w["top"] + w["bottom"]) / 2)
        self._pointer([("move", x, y), ("click", x, y)])

    def screenshot(self, name: str) -> Path:
        path = self.artifacts / f"{_slug(name)}.png"
        self.driver.save_screenshot(str(path))
        return path


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text.lower()).strip("-")[:80] or "shot"

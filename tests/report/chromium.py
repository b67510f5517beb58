# SPDX-License-Identifier: Apache-2.0
"""A real headless Chromium driven through the DevTools protocol, for the HTML report tests.

The protocol runs over `--remote-debugging-pipe` (fds 3 and 4, NUL-separated JSON), so no
port is opened and nothing beyond the standard library is needed. `Page` records every
network request, console message, log entry and uncaught exception while it is open.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--no-default-browser-check", "--disable-extensions", "--disable-default-apps",
        "--mute-audio", "--remote-debugging-pipe")


def executable() -> str | None:
    for name in ("chromium",):
        found = shutil.which(name)
        if found:
            return found
    return None


class ProtocolError(RuntimeError):
    pass


@dataclass
class Events:
    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    log: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    exceptions: list[str] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return ([f"console.{t}: {m}" for t, m in self.console if t in ("error", "assert")]
                + [f"log {l}: {m}" for l, m in self.log if l == "error"]
                + [f"exception: {e}" for e in self.exceptions])


class Chromium:
    def __init__(self, exe: str, profile: Path, log_file: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # out of the 3/4 range so dup2 always creates fresh, inheritable fds 3 and 4
        hi_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_child_r)
        os.close(from_child_w)
        argv = [exe, *ARGS, f"--user-data-dir={profile}", "about:blank"]
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
            (os.POSIX_SPAWN_DUP2, hi_r, 3),
            (os.POSIX_SPAWN_DUP2, hi_w, 4),
        ]
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TZ")}
        env["HOME"] = str(profile)
        self.pid = os.posix_spawn(exe, argv, env, file_actions=actions)
        os.close(hi_r)
        os.close(hi_w)
        self._buf = b""
        self._next = 0
        self._queue: list[dict[str, Any]] = []
        self.version = self.call("Browser.getVersion")["product"]

    # -- transport
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise ProtocolError("chromium closed the DevTools pipe (crashed?)")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def call(self, method: str, params: dict[str, Any] | None = None, *,
             session: str | None = None, timeout: float = 30) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise ProtocolError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self._queue.append(reply)

    def wait_event(self, method: str, session: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for n, ev in enumerate(self._queue):
                if ev.get("method") == method and ev.get("sessionId") == session:
                    return self._queue.pop(n)
            self._queue.append(self._read_message(deadline))

    def drain(self, session: str, events: Events) -> None:
        """Move the queued events of `session` into `events`."""
        keep = []
        for ev in self._queue:
            if ev.get("sessionId") != session:
                keep.append(ev)
                continue
            m, p = ev.get("method", ""), ev.get("params", {})
            if m == "Network.requestWillBeSent":
                events.requests.append(p["request"]["url"])
            elif m == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                events.console.append((p["type"], text))
            elif m == "Log.entryAdded":
                events.log.append((p["entry"]["level"], p["entry"]["text"]))
            elif m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                events.exceptions.append(d.get("exception", {}).get("description", d["text"]))
            else:
                events.other.append(ev)
        self._queue = keep

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (ProtocolError, TimeoutError, OSError):
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        os.close(self._to_child)
        os.close(self._from_child)

    # -- pages
    def open(self, url: str, *, width: int = 1400, height: int = 1000,
             bypass_csp: bool = False) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session, target)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        if bypass_csp:  # so a request the page tried would show, not be silently refused
            self.call("Page.setBypassCSP", {"enabled": True}, session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session)
        page.sync()
        return page


class Page:
    def __init__(self, browser: Chromium, session: str, target: str) -> None:
        self.browser = browser
        self.session = session
        self.target = target
        self.events = Events()

    def sync(self) -> None:
        self.eval("0")
        self.browser.drain(self.session, self.events)

    def eval(self, expression: str) -> Any:
        r = self.browser.call("Runtime.evaluate", {"expression": expression,
                                                   "returnByValue": True,
                                                   "awaitPromise": True}, session=self.session)
        if "exceptionDetails" in r:
            raise ProtocolError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def type(self, selector: str, text: str) -> None:
        """Focus `selector` and type `text` as keyboard input (fires `input` events)."""
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        for ch in text:
            self.browser.call("Input.dispatchKeyEvent", {"type": "keyDown", "text": ch,
                                                         "key": ch, "unmodifiedText": ch},
                              session=self.session)
            self.browser.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": ch},
                              session=self.session)
        self.sync()

    def click(self, selector: str) -> None:
        box = self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                        "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                        "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.browser.call("Input.dispatchMouseEvent",
                              {"type": kind, "x": box[0], "y": box[1], "button": "left",
                               "clickCount": 1}, session=self.session)
        self.sync()

    def screenshot(self, path: Path) -> None:
        self.eval("window.scrollTo(0, 0)")
        data = self.browser.call("Page.captureScreenshot", {"format": "png"},
                                 session=self.session)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.sync()
        self.browser.call("Target.closeTarget", {"targetId": self.target})

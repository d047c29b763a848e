"""Headless Chromium (Debian's `chromium` package) driven over the DevTools
protocol on a pipe (--remote-debugging-pipe: fd 3 in, fd 4 out, one JSON
message per NUL): no WebSocket client, nothing downloaded, stdlib only.

Every wait is for a condition with a deadline; nothing sleeps for a fixed time.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars"]


class BrowserError(AssertionError):
    pass


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, width=1280, height=900):
        binary = find_chromium()
        if binary is None:
            raise BrowserError("chromium is not installed (scripts/setup.sh installs Debian's chromium)")
        self.profile = tempfile.mkdtemp(prefix="tunneldoc-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def plumb():  # in the child: the pipe ends become fds 3 and 4, inheritable
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = open(os.path.join(self.profile, "chromium.log"), "w")
        self.proc = subprocess.Popen(
            [binary] + FLAGS + ["--remote-debugging-pipe", "--user-data-dir=" + self.profile,
                                "--window-size={},{}".format(width, height), "about:blank"],
            preexec_fn=plumb, close_fds=False, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events = []  # every event received, in order: (method, params, sessionId)
        self.call("Browser.getVersion", timeout=30)

    # ------------------------------------------------------------- protocol
    def _read(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.time()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise BrowserError("chromium exited (see {}/chromium.log)".format(self.profile))
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=20):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise BrowserError("{}: {}".format(method, reply["error"]))
                return reply.get("result", {})
            if "method" in reply:
                self.events.append((reply["method"], reply.get("params", {}), reply.get("sessionId")))

    def page(self, url, width=None, height=None, scripts=True, mobile=False):
        return Page(self, url, width, height, scripts, mobile)

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser, url, width, height, scripts, mobile):
        self.b = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.target = target
        for domain in ("Page", "Runtime", "Network"):
            self.call(domain + ".enable")
        if width:
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height or 900, "deviceScaleFactor": 1, "mobile": mobile})
        if not scripts:
            self.call("Emulation.setScriptExecutionDisabled", {"value": True})
        self.navigate(url)

    def call(self, method, params=None, timeout=20):
        return self.b.call(method, params, self.session, timeout)

    def navigate(self, url):
        self.call("Page.navigate", {"url": url})
        self.wait("document.readyState === 'complete' && location.href !== 'about:blank'", what="the page to load")

    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise BrowserError("{} threw: {}".format(expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait(self, expression, timeout=15.0, what=None):
        """Polls `expression` in the page until it is truthy; fails at the deadline."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = self.eval(expression)
                if last:
                    return last
            except BrowserError as e:  # e.g. a navigation in progress
                last = str(e)
            time.sleep(0.05)  # the polling step of a wait with a deadline
        raise BrowserError("timed out waiting for {} (last value: {!r})".format(what or expression, last))

    def requests(self):
        """URLs this page asked the network for."""
        return [p["request"]["url"] for m, p, s in self.b.events
                if m == "Network.requestWillBeSent" and s == self.session]

    def key(self, key, code, keycode):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent",
                      {"type": kind, "key": key, "code": code, "windowsVirtualKeyCode": keycode})

    def screenshot(self, path, max_height=None):
        """A PNG of the whole page (or its top `max_height` CSS pixels); returns its bytes."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        height = size["height"] if max_height is None else min(size["height"], max_height)
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": height, "scale": 1}}, timeout=60)
        data = base64.b64decode(shot["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def close(self):
        self.b.call("Target.closeTarget", {"targetId": self.target})


def image_stats(browser, png):
    """Decodes `png` in a blank page with a canvas: (width, height, distinct
    colours in a sample, share of the most common colour)."""
    page = browser.page("about:blank#stats")
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    stats = page.eval("""new Promise((done, failed) => {
      const img = new Image();
      img.onload = () => {
        const c = document.createElement('canvas');
        c.width = img.width; c.height = img.height;
        const g = c.getContext('2d');
        g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data;
        const counts = new Map();
        let n = 0;
        for (let i = 0; i < d.length; i += 4 * 7) {
          const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
          counts.set(k, (counts.get(k) || 0) + 1);
          n++;
        }
        const top = Math.max(...counts.values());
        done([img.width, img.height, counts.size, top / n]);
      };
      img.onerror = () => failed('not a PNG');
      img.src = %s;
    })""" % json.dumps(url))
    page.close()
    return stats


def check_not_blank(browser, png, what):
    w, h, colours, top = image_stats(browser, png)
    if w < 300 or h < 200 or colours < 8 or top > 0.97:
        raise BrowserError("{} screenshot looks blank: {}x{}, {} colours, {:.0%} one colour".format(
            what, w, h, colours, top))
    return w, h, colours, top

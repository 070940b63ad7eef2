"""The auditor web page in a real browser: headless Chromium (Debian's
chromium + chromium-driver, driven by python3-selenium) against a real
bastiond and a real sshd target.

Refused without login; `ssh audit@bastion login` gives a one-time URL to an
auditor and nothing to anyone else; the sessions list and its filters; a
session's commands, decisions and reasons; asciinema-player's terminal rows
read from the DOM and compared exactly (a no-pty recording draws each line
from column 0: no staircase); a command text that is HTML stays text; a live
pty session shows new output within seconds. A screenshot of each view is
kept under the build dir (test-artifacts/web_page).
"""
import base64
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import BASTIONCTL, BUILD, BastionTest, Env, free_port, main, run

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ASSETS = os.path.join(REPO, "bastion", "web", "assets")
PAGE_FILES = ("app.js", "app.css")
PLAYER_FILES = ("asciinema-player.min.js", "asciinema-player.css")  # copied by scripts/setup.sh
ARTIFACTS = os.path.join(os.path.abspath(BUILD), "test-artifacts", "web_page")
WAIT = 10  # seconds for anything the page loads

POLICY = r'''
function on_command(c)
  if c.text:find("forbidden", 1, true) then return deny("forbidden word in command") end
  if c.text:find("^echo held") then
    return review{ reason = "held for a test", approvers = { "oncall" }, timeout = 30 }
  end
  return allow()
end
'''

XSS = "<img src=x onerror=alert(1)>"

# The player's terminal as text: each row's spans placed at their column
# (--offset), trailing blanks dropped. A staircase shows as leading blanks.
SCREEN_JS = r'''
const box = arguments[0];
return [...box.querySelectorAll('.ap-term-text .ap-line')].map((row) => {
  const cells = [];
  for (const span of row.children) {
    const col = parseInt(span.style.getPropertyValue('--offset'), 10) || 0;
    [...span.textContent].forEach((ch, i) => { cells[col + i] = ch; });
  }
  return Array.from(cells, (c) => (c === undefined ? ' ' : c)).join('').replace(/[\s\u00a0]+$/, '');
});
'''

COMMAND_ROWS_JS = r'''
return [...document.querySelectorAll('#session-commands tbody tr')].map((tr) =>
  ['command', 'decision', 'reason', 'approval'].map((c) => tr.querySelector('td.' + c).textContent));
'''

FETCH_STATUS_JS = r'''
const done = arguments[arguments.length - 1];
fetch(arguments[0], { credentials: 'same-origin' }).then((r) => done(r.status), (e) => done(String(e)));
'''


def spki_sha256(cert_path):
    """base64 SHA-256 of the certificate's public key, for Chromium's
    --ignore-certificate-errors-spki-list: trusts exactly this key."""
    pub = run(["openssl", "x509", "-in", cert_path, "-pubkey", "-noout"], check=True).stdout
    der = run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class WebPageTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        missing = [f for f in PAGE_FILES + PLAYER_FILES + ("index.html",)
                   if not os.path.isfile(os.path.join(ASSETS, f))]
        if missing:
            raise RuntimeError(f"missing in {ASSETS}: {missing} (run scripts/setup.sh: it installs asciinema-player)")
        env = cls.env = Env()
        try:
            cls.start(env)
        except BaseException:
            env.close()
            raise

    @classmethod
    def start(cls, env):
        # The page as bastiond serves it: index.html, assets/<name>.
        web = os.path.join(env.d, "web")
        os.makedirs(os.path.join(web, "assets"))
        shutil.copy(os.path.join(ASSETS, "index.html"), web)
        for f in PAGE_FILES + PLAYER_FILES:
            shutil.copy(os.path.join(ASSETS, f), os.path.join(web, "assets"))
        # A P-256 certificate of the test's own: Chromium trusts exactly its key.
        cert, key = os.path.join(env.d, "web_cert.pem"), os.path.join(env.d, "web_key.pem")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-keyout", key, "-out", cert, "-days", "1", "-nodes", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True)
        with open(os.path.join(env.d, "policy.lua"), "w") as f:
            f.write(POLICY)
        # Approvers hold certificates from the bastion's own CA (as in test_approvals).
        bca = os.path.join(env.keys.d, "bastion_ca")
        run([BASTIONCTL, "ca", "init", bca], check=True)
        with open(os.path.join(env.keys.d, "user_ca.pub"), "a") as f, open(bca + ".pub") as p:
            f.write(p.read())
        cls.approver = env.keys.keygen("dora")
        run([BASTIONCTL, "cert", "issue", "--ca", bca, "--identity", "dora", "--principals", "ops,oncall",
             "--ttl", "1h", "--db", os.path.join(env.d, "issued.db"), cls.approver + ".pub"], check=True)
        cls.web_port = free_port()
        env.start_bastion(extra=f'''policy = "policy.lua"
web_listen = "127.0.0.1:{cls.web_port}"
web_cert = "{cert}"
web_key = "{key}"
web_assets_dir = "{web}"
auditor_principals = {{ "auditor" }}''')
        cls.base = f"https://127.0.0.1:{cls.web_port}"
        cls.auditor = env.keys.cert(env.keys.keygen("auditor"), env.ca, "carol-auditor", "auditor")
        cls.bob = env.keys.cert(env.keys.keygen("bob"), env.ca, "bob", "ops")

        # The sessions the auditor looks at.
        cls.sid = {}
        for name, command, key in (("lines", 'printf "first line\\nsecond line\\nthird line\\n"', None),
                                   ("xss", f"echo '{XSS}'", None),
                                   ("denied", "echo forbidden", None),
                                   ("bob", "echo from-bob", cls.bob)):
            before = {r[0] for r in env.audit("SELECT id FROM sessions")}
            r = env.ssh("web1", command, key=key)
            assert r.returncode == (126 if name == "denied" else 0), (name, r)
            cls.sid[name] = cls.wait_new_session(before)
        # A held command that dora approves.
        before = {r[0] for r in env.audit("SELECT id FROM sessions")}
        held = subprocess.Popen(env.ssh_base() + ["web1@127.0.0.1", "echo held-ok"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        rid = cls.held_request = cls.wait_pending("echo held-ok")
        r = env.ssh("approvals", ["approve", str(rid), "--comment", "looks fine"], key=cls.approver)
        assert r.returncode == 0, r
        out, err = held.communicate(timeout=30)
        assert (held.returncode, out) == (0, b"held-ok\n"), (held.returncode, out, err)
        cls.sid["held"] = cls.wait_new_session(before)
        cls.driver = None
        cls.browser_dir = tempfile.mkdtemp(prefix="bastion-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--disable-gpu", "--window-size=1280,1100",
                  f"--user-data-dir={cls.browser_dir}",
                  f"--ignore-certificate-errors-spki-list={spki_sha256(cert)}"):
            opts.add_argument(a)
        if os.getuid() == 0:
            opts.add_argument("--no-sandbox")  # Chromium refuses to start its sandbox as root
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        cls.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        cls.driver.set_page_load_timeout(30)
        cls.driver.set_script_timeout(WAIT)

    @classmethod
    def wait_new_session(cls, before):
        """The id of the one session on web1 that ended since `before` was
        read (approvals@ and audit@ logins are sessions too)."""
        end = time.time() + WAIT
        while time.time() < end:
            new = [r[0] for r in cls.env.audit("SELECT id FROM sessions WHERE ended_at IS NOT NULL AND target='web1'")
                   if r[0] not in before]
            if len(new) == 1:
                return new[0]
            time.sleep(0.05)
        raise AssertionError(f"no single new finished session (before: {before})")

    @classmethod
    def wait_pending(cls, text):
        end = time.time() + WAIT
        while time.time() < end:
            rows = cls.env.audit("SELECT id FROM approval_requests WHERE command_text=? AND state='pending'", (text,))
            if rows:
                return rows[0][0]
            time.sleep(0.05)
        raise AssertionError(f"no pending request for {text!r}")

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "driver", None):
            cls.driver.quit()
        if getattr(cls, "browser_dir", None):
            shutil.rmtree(cls.browser_dir, ignore_errors=True)
        super().tearDownClass()

    # --- helpers ------------------------------------------------------------------

    def until(self, what, fn, timeout=WAIT, last=None):
        """fn() once truthy, polled; on timeout the failure names what it
        waited for and what `last()` (if given) shows then."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(lambda _d: fn())
        except TimeoutException:
            self.fail(f"timed out after {timeout} s waiting for {what}" + (f"; have {last()!r}" if last else ""))

    def shown(self, element_id):
        return self.driver.find_element(By.ID, element_id).is_displayed()

    def login(self):
        """A fresh one-time URL for the auditor, opened in the browser."""
        r = self.env.ssh("audit", "login", key=self.auditor)
        self.assertEqual(r.returncode, 0, r)
        m = re.fullmatch(rf"(https://127\.0\.0\.1:{self.web_port}/login\?token=[A-Za-z0-9_-]+)\n",
                         r.stdout.decode())
        self.assertIsNotNone(m, r.stdout)
        self.driver.get(m.group(1))
        self.until("the sessions list", lambda: self.shown("list-view"))
        self.assertEqual(self.driver.current_url, self.base + "/")

    # Read in one script: the page replaces table rows while a test polls them.
    def listed_sessions(self):
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#sessions tbody tr')].map((tr) => tr.dataset.session)")

    def found_commands(self):
        return self.driver.execute_script(
            "return [...document.querySelectorAll('#commands tbody tr td.command')].map((td) => td.textContent)")

    def open_session(self, sid):
        self.driver.get(f"{self.base}/#session={sid}")
        self.until("the session view", lambda: self.shown("session-view")
                   and self.driver.find_element(By.ID, "session-id").text == sid
                   and self.driver.find_elements(By.CSS_SELECTOR, "#session-commands tbody tr"))

    def command_rows(self):
        """(command, decision, reason, approval) of each command row of the open session."""
        return [tuple(r) for r in self.driver.execute_script(COMMAND_ROWS_JS)]

    def recording_box(self):
        """The first recording of the open session, once fetched (its
        chapters and player are added together)."""
        players = self.until("the recording", lambda: self.driver.find_elements(
            By.CSS_SELECTOR, ".recording-box:first-child .player"))
        return players[0].find_element(By.XPATH, "..")

    def final_screen(self, box):
        box.find_element(By.CSS_SELECTOR, "button.to-end").click()
        rows = []

        def drawn():
            rows[:] = self.driver.execute_script(SCREEN_JS, box)
            return any(rows)
        self.until("the player's final screen", drawn)
        return rows

    def screenshot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name + ".png")
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.assertTrue(self.driver.save_screenshot(path))
        print(f"\nscreenshot: {path}")

    def assert_no_alert(self):
        with self.assertRaises(NoAlertPresentException):
            self.driver.switch_to.alert.text

    # --- tests ----------------------------------------------------------------------

    def test_1_refused_without_login(self):
        self.driver.delete_all_cookies()
        self.driver.get(self.base + "/")
        body = self.driver.find_element(By.TAG_NAME, "body").text
        self.assertIn("Login required", body)
        self.assertIn("ssh audit@bastion login", body)
        for sid in self.sid.values():
            self.assertNotIn(sid, self.driver.page_source)
        for path in ("/api/me", "/api/sessions", f"/api/sessions/{self.sid['lines']}",
                     f"/api/sessions/{self.sid['lines']}/recordings/0", "/assets/app.js"):
            self.assertEqual(self.driver.execute_async_script(FETCH_STATUS_JS, path), 401, path)

    def test_2_non_auditor_gets_no_url(self):
        r = self.env.ssh("audit", "login")  # alice: principal ops only
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"bastion: audit: not an auditor", r.stderr)
        self.assertNotIn(b"https://", r.stderr)

    def test_3_sessions_list_and_filters(self):
        self.login()
        self.until("the sessions", lambda: set(self.sid.values()) <= set(self.listed_sessions()))
        self.screenshot("sessions")
        me = self.driver.find_element(By.ID, "me").text
        self.assertTrue(me.startswith("carol-auditor "), me)

        form = self.driver.find_element(By.ID, "filters")
        submit = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
        status = lambda: self.driver.find_element(By.ID, "status").text
        form.find_element(By.NAME, "until").send_keys("2000-01-01")
        submit.click()
        self.until("no sessions before 2000", lambda: status() == "No sessions match.", last=status)
        self.assertEqual(self.listed_sessions(), [])
        form.find_element(By.NAME, "until").clear()
        form.find_element(By.NAME, "since").send_keys("1h")
        submit.click()
        self.until("the last hour's sessions", lambda: set(self.sid.values()) <= set(self.listed_sessions()))
        form.find_element(By.NAME, "since").clear()
        form.find_element(By.NAME, "since").send_keys("banana")
        submit.click()
        self.until("the API's reason for a bad time", lambda: status().startswith("Error: since: "), last=status)
        self.assertEqual(self.listed_sessions(), [])
        form.find_element(By.NAME, "since").clear()

        form.find_element(By.NAME, "identity").send_keys("bob")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.until("bob's session only", lambda: self.listed_sessions() == [self.sid["bob"]],
                   last=self.listed_sessions)
        form.find_element(By.NAME, "identity").clear()
        # The non-auditor's refused audit@ login is a denied session too: only web1's here.
        form.find_element(By.NAME, "target").send_keys("web1")
        Select(form.find_element(By.NAME, "decision")).select_by_value("deny")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.until("the denied session only", lambda: self.listed_sessions() == [self.sid["denied"]],
                   last=lambda: (self.listed_sessions(), self.sid))

        search = self.driver.find_element(By.ID, "command-search")
        Select(form.find_element(By.NAME, "decision")).select_by_value("")
        search.find_element(By.NAME, "grep").send_keys("FIRST LINE")
        search.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.until("the command search", lambda: self.found_commands()
                   == ['printf "first line\\nsecond line\\nthird line\\n"'], last=self.found_commands)

    def test_4_session_view_and_player_rows(self):
        self.login()
        self.open_session(self.sid["lines"])
        self.assertEqual(self.command_rows(), [("", "allow", "", ""),  # the session's own decision
                                               ('printf "first line\\nsecond line\\nthird line\\n"', "allow", "", "")])
        box = self.recording_box()
        self.assertEqual([b.text for b in box.find_elements(By.CSS_SELECTOR, "button.chapter")],
                         ['exec: printf "first line\\nsecond line\\nthird line\\n"', "decision: allow"])
        screen = self.final_screen(box)
        # Without a pty the target wrote bare \n: recorded as \r\n, every line starts at column 0.
        self.assertEqual(screen, ["first line", "second line", "third line"] + [""] * (len(screen) - 3))
        self.assertEqual(len(screen), 24)
        self.screenshot("session-lines")

        self.open_session(self.sid["denied"])
        self.assertEqual(self.command_rows(), [("", "allow", "", ""),
                                               ("echo forbidden", "deny", "forbidden word in command", "")])

        self.open_session(self.sid["held"])
        self.assertEqual(self.command_rows(), [("", "allow", "", ""),
                                               ("echo held-ok", "review", "held for a test", "approved by dora"),
                                               ("echo held-ok", "allow", f"approved in request #{self.held_request} by dora",
                                                "approved by dora")])
        self.assertEqual(self.driver.find_element(By.CSS_SELECTOR, "#session-commands tbody tr:nth-child(2) td.approval")
                         .get_attribute("title"), "dora approve: looks fine")

    def test_5_command_text_stays_text(self):
        self.login()
        self.open_session(self.sid["xss"])
        self.assertEqual(self.command_rows()[-1], (f"echo '{XSS}'", "allow", "", ""))
        box = self.recording_box()
        self.assertEqual(box.find_elements(By.CSS_SELECTOR, "button.chapter")[0].text, f"exec: echo '{XSS}'")
        screen = self.final_screen(box)
        self.assertEqual(screen[0], XSS)
        self.assertEqual(self.driver.execute_script("return document.querySelectorAll('main img').length"), 0)
        self.assert_no_alert()
        self.screenshot("session-xss")

    def test_6_live_session(self):
        self.login()
        cmd = self.env.ssh_base(tty=True) + ["web1@127.0.0.1"]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            live = []

            def listed_live():
                self.driver.get(self.base + "/")
                self.until("the sessions list", lambda: self.shown("list-view"))
                live[:] = self.driver.execute_script(
                    "return [...document.querySelectorAll('#sessions tbody tr')]"
                    ".filter((tr) => tr.querySelector('span.live') && tr.querySelector('td.target').textContent === 'web1')"
                    ".map((tr) => tr.dataset.session)")
                return live
            # The session opens through the target first (slow under ASan).
            self.until("the live session in the list", listed_live, timeout=30)
            open_ids = [r[0] for r in self.env.audit("SELECT id FROM sessions WHERE ended_at IS NULL AND target='web1'")]
            self.assertEqual(live, open_ids)
            self.driver.get(f"{self.base}/#session={live[0]}")
            box = self.until("the live player", lambda: self.driver.find_elements(By.CSS_SELECTOR, ".live-player"))[0]
            state = self.driver.find_element(By.CSS_SELECTOR, ".live-state")
            self.until("the live tail", lambda: state.text == "live")

            # Typed now, while the page watches: $((6*7)) is only 42 in the output.
            proc.stdin.write(b"echo live-$((6*7))-out\n")
            proc.stdin.flush()
            t0 = time.time()
            self.until("the new output in the player",
                       lambda: any(r == "live-42-out" for r in self.driver.execute_script(SCREEN_JS, box)),
                       timeout=10)
            print(f"\nlive output shown after {time.time() - t0:.2f} s")
            chapters = lambda: self.driver.execute_script(
                "return [...arguments[0].querySelectorAll('button.chapter')].map((b) => b.textContent)", box.find_element(By.XPATH, ".."))
            self.until("the command's markers as chapters", lambda: chapters()
                       == ["decision: allow", "shell_line: echo live-$((6*7))-out", "decision: allow"], last=chapters)
            self.until("the command in the table", lambda: ("echo live-$((6*7))-out", "allow", "", "")
                       in self.command_rows(), last=self.command_rows)
            self.screenshot("session-live")

            proc.stdin.write(b"exit\n")
            proc.stdin.flush()
            proc.wait(timeout=WAIT)
            self.until("the end of the live session", lambda: state.text == "ended")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdin.close()
            proc.stdout.close()

    def test_7_logout_clears_the_page(self):
        self.login()
        self.until("the sessions", lambda: self.sid["lines"] in self.listed_sessions())
        self.driver.find_element(By.ID, "logout").click()
        self.until("the login notice", lambda: self.shown("login-needed"))
        self.assertFalse(self.shown("list-view"))
        self.assertEqual(self.listed_sessions(), [])
        self.assertEqual(self.driver.execute_async_script(FETCH_STATUS_JS, "/api/sessions"), 401)


if __name__ == "__main__":
    main()

"""Issue 17, outside review (performance work: recording = "off", the flusher
thread's hash chain, sessions sleeping to their deadlines). Tests marked
expectedFailure are open holes (# HOLE: ...)."""
import os
import sys
import time

from harness import BastionTest, Env, main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sshproto  # noqa: E402


class RecordingOffReloadTest(BastionTest):
    """A target whose recording the admin turns back on: every channel opened
    after the reload is recorded, also on a connection (ControlMaster, a
    paramiko transport) that authenticated while it was off."""

    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        quiet = f"""
  quiet = {{ type = "ssh", host = "127.0.0.1", port = {env.target.port}, user = "{env.user}",
            identity = "keys/target_key", known_hosts = "keys/known_hosts", allow = {{ "ops" }},
            recording = "off" }},"""
        try:
            env.start_bastion(targets=env.default_targets() + quiet)
        except BaseException:
            env.close()
            raise

    def state_of(self, command):
        end = time.time() + 10
        while time.time() < end:
            rows = self.env.audit("SELECT recording_state FROM commands WHERE text=? AND kind='exec'", (command,))
            if rows and rows[0][0]:
                return rows[0][0]
            time.sleep(0.05)
        return None

    def reload(self, value):
        with open(self.env.bastion.conf) as f:
            text = f.read()
        text = text.replace('recording = "off"', f'recording = "{value}"').replace(
            'recording = "on"', f'recording = "{value}"')
        self.assertTrue(self.env.bastion.rewrite_config_and_reload(text))

    def test_channels_opened_after_recording_is_turned_on_are_recorded(self):
        t = sshproto.connect(self.env.bastion.port, "quiet", self.env.alice)
        try:
            self.assertEqual(sshproto.run(t, "echo before-reload")[0], 0)
            self.assertEqual(self.state_of("echo before-reload"), "off (by configuration)")
            self.reload("on")
            # The same connection, a new channel: the configuration now says on.
            status, out, _ = sshproto.run(t, "echo after-reload")
            self.assertEqual((status, out), (0, b"after-reload\n"))
            self.assertEqual(self.state_of("echo after-reload"), "complete")
        finally:
            t.close()
            self.reload("off")


if __name__ == "__main__":
    main()

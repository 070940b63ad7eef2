"""A full disk under the recordings: the session ends with a clear message
(fail closed), bastiond keeps serving, and recovers once there is room."""
import os
import shutil
import subprocess

from harness import BastionTest, Env, main, run


class DiskFullTest(BastionTest):
    @classmethod
    def setUpClass(cls):
        env = cls.env = Env()
        cls.mount = os.path.join(env.d, "data")
        os.makedirs(cls.mount)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", cls.mount], capture_output=True)
        cls.mounted = r.returncode == 0
        if cls.mounted:
            env.start_bastion()

    @classmethod
    def tearDownClass(cls):
        if cls.env.bastion:
            cls.env.bastion.stop()
        if cls.mounted:
            subprocess.run(["umount", cls.mount])
        super().tearDownClass()

    def test_recording_on_full_disk_fails_closed_then_recovers(self):
        if not self.mounted:
            self.skipTest("cannot mount a tmpfs here (needs root)")
        r = self.env.ssh("web1", "head -c 8000000 /dev/zero | tr '\\\\0' x; echo; echo done", timeout=60)
        self.assertEqual(r.returncode, 255)
        self.assertIn(b"bastion: recording failed: recording write failed: No space left on device; session closed\n",
                      r.stderr)
        self.assertNotIn(b"done", r.stdout)
        logs = [l for l in self.env.bastion.log_lines() if l.get("msg", "").startswith("recording failed")]
        self.assertTrue(logs)
        # Free the space: the daemon is still up and records new sessions.
        for d in os.listdir(os.path.join(self.mount, "recordings")):
            shutil.rmtree(os.path.join(self.mount, "recordings", d))
        r = self.env.ssh("web1", "echo after")
        self.assertEqual((r.returncode, r.stdout), (0, b"after\n"), r.stderr)


if __name__ == "__main__":
    main()

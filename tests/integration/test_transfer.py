"""sftp and scp (sftp mode) through the bastion, byte-exact, audited."""
import hashlib
import os

from harness import BastionTest, main, run


class TransferTest(BastionTest):
    def opts(self):
        base = self.env.ssh_base()
        # ssh_base ends with -T and uses -p; scp/sftp want -P.
        out = []
        it = iter(base[1:])
        for a in it:
            if a == "-p":
                out += ["-P", next(it)]
            elif a in ("-T", "-tt"):
                continue
            else:
                out.append(a)
        return out

    def test_sftp_put_get(self):
        src = os.path.join(self.env.d, "upload.bin")
        data = os.urandom(3 * 1024 * 1024 + 17)
        with open(src, "wb") as f:
            f.write(data)
        dst = os.path.join(self.env.d, "uploaded.bin")
        back = os.path.join(self.env.d, "downloaded.bin")
        batch = f"put {src} {dst}\nget {dst} {back}\n".encode()
        r = run(["sftp", "-b", "-"] + self.opts() + ["web1@127.0.0.1"], input=batch)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), data)
        with open(back, "rb") as f:
            self.assertEqual(f.read(), data)
        rows = self.env.audit("SELECT kind, text, bytes_in > ?, bytes_out > ?, recording_state "
                              "FROM commands WHERE kind='subsystem' ORDER BY id DESC LIMIT 1",
                              (len(data), len(data)))
        self.assertEqual(rows, [("subsystem", "sftp", 1, 1, "not recorded (file transfer)")])

    def test_scp_both_ways(self):
        src = os.path.join(self.env.d, "scp_src.bin")
        data = os.urandom(1024 * 1024 + 3)
        with open(src, "wb") as f:
            f.write(data)
        remote = os.path.join(self.env.d, "scp_remote.bin")
        r = run(["scp", "-q"] + self.opts() + [src, f"web1@127.0.0.1:{remote}"])
        self.assertEqual(r.returncode, 0, r.stderr)
        back = os.path.join(self.env.d, "scp_back.bin")
        r = run(["scp", "-q"] + self.opts() + [f"web1@127.0.0.1:{remote}", back])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(back, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).digest(), hashlib.sha256(data).digest())

    def test_sftp_denied_without_principal(self):
        r = run(["sftp", "-b", "-"] + self.opts() + ["db1@127.0.0.1"], input=b"ls\n")
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    main()

"""Protocol-level SSH clients for tests that need what OpenSSH's ssh(1)
does not do on demand: many channels on one connection, channels opened
while others are busy, small windows, repeated authentication."""
import paramiko


def cert_key(path):
    """The private key at `path` with its OpenSSH certificate (path-cert.pub)."""
    key = paramiko.Ed25519Key.from_private_key_file(path)
    key.load_certificate(path + "-cert.pub")
    return key


def connect(port, target, key_path, timeout=10):
    """An authenticated transport to `target`@bastion."""
    t = paramiko.Transport(("127.0.0.1", port))
    t.banner_timeout = timeout
    t.connect()
    t.auth_publickey(target, cert_key(key_path))
    return t


def run(t, command, timeout=30, window_size=None):
    """Runs `command` on a new channel; returns (status, stdout, stderr)."""
    ch = t.open_session(timeout=timeout, window_size=window_size)
    ch.settimeout(timeout)
    ch.exec_command(command)
    return finish(ch)


def finish(ch):
    out, err = b"", b""
    while True:
        d = ch.recv(65536)
        if not d:
            break
        out += d
    while True:
        d = ch.recv_stderr(65536)
        if not d:
            break
        err += d
    status = ch.recv_exit_status()
    ch.close()
    return status, out, err

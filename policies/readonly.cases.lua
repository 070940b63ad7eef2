local viewer = { "viewer" }
cases = {
  { name = "ls", principals = viewer, command = "ls -la /var/log", expect = "allow" },
  { name = "pipeline of readers", principals = viewer, command = "journalctl -u nginx | grep error | tail -5",
    expect = "allow" },
  { name = "systemctl status", principals = viewer, command = "systemctl status nginx", expect = "allow" },
  { name = "systemctl restart", principals = viewer, command = "systemctl restart nginx", expect = "deny" },
  { name = "writer hidden in pipeline", principals = viewer, command = "cat x | tee /etc/passwd",
    expect = "deny", reason = "tee is not in the allowlist" },
  { name = "redirection", principals = viewer, command = "cat a > b", expect = "deny",
    reason = "output redirection" },
  { name = "find -delete", principals = viewer, command = "find /tmp -name x -delete", expect = "deny" },
  { name = "substitution", principals = viewer, command = "ls $(rm -rf ~)", expect = "deny" },
  { name = "shell refused", principals = viewer, kind = "shell", command = "", expect = "deny" },
  { name = "sftp refused", principals = viewer, kind = "subsystem", command = "sftp", expect = "deny" },
  { name = "others unaffected", principals = { "ops" }, command = "systemctl restart nginx", expect = "allow" },
}

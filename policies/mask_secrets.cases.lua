cases = {
  { name = "exec is masked", command = "cat /etc/app.env", expect = "mask" },
  { name = "shell is masked", kind = "shell", command = "", tty = true, expect = "mask" },
  { name = "the policy masks sftp too (bastiond then refuses it: binary data cannot be masked)", kind = "subsystem", command = "sftp", expect = "mask" },
}

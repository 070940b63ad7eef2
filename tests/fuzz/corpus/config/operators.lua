listen = "127.0.0.1:2222"
host_keys = { "host_key" }
user_ca_keys = { "ca.pub" }
data_dir = "data"
metrics_listen = "[::1]:9100"
metrics_allow_remote = false
control_socket = "run/bastiond.sock"
pid_file = "run/bastiond.pid"
targets = {
  web1 = { type = "ssh", host = "127.0.0.1", port = 22, user = "u", identity = "k",
           known_hosts = "kh", allow = { "ops" } },
}

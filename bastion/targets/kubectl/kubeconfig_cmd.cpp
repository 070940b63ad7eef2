// bastionctl kubeconfig: the kubeconfig for a user's own kubectl. It asks
// the bastion over the user's own SSH login (`ssh -s TARGET@HOST
// kubeconfig`, so the certificate decides, and the token in it is that
// certificate's), then points it at the local end of `ssh -L`.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/display_escape.h"
#include "common/parse_number.h"
#include "targets/kubectl/kubeconfig_cmd.h"

namespace bastion {
namespace {

constexpr std::size_t kMaxOutput = 1 << 20;

int usage() {
  std::fprintf(stderr,
               "usage: bastionctl kubeconfig TARGET --bastion HOST [--port N] [--local-port N] [--ssh PROGRAM]\n"
               "                             [--output FILE] [-- SSH_OPTION...]\n");
  return 2;
}

// Runs ssh (argv, no shell) and collects what it prints; its stderr is the user's.
bool run_ssh(const std::vector<std::string>& argv, std::string& out, int& status) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    dup2(p[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "bastionctl: cannot run %s: %s\n", argv[0].c_str(), std::strerror(errno));
    _exit(127);
  }
  ::close(p[1]);
  char buf[8192];
  for (;;) {
    const ssize_t n = read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < kMaxOutput) out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(p[0]);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
  status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
  return true;
}

bool write_private(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = fchmod(fd, 0600) == 0;  // an existing file keeps no wider mode: the token is in it
  std::size_t done = 0;
  while (ok && done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else done += static_cast<std::size_t>(n);
  }
  return ::close(fd) == 0 && ok;
}

}  // namespace

int ctl_kubeconfig(const std::vector<std::string>& a) {
  std::string target, host, port, output, ssh = "ssh";
  int local_port = 6443;
  std::vector<std::string> ssh_opts;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string& x = a[i];
    auto value = [&](std::string& v) {
      if (i + 1 >= a.size()) return false;
      v = a[++i];
      return true;
    };
    if (x == "--") {
      ssh_opts.assign(a.begin() + static_cast<std::ptrdiff_t>(i) + 1, a.end());
      break;
    }
    std::string v;
    if (x == "--bastion") {
      if (!value(host)) return usage();
    } else if (x == "--port") {
      if (!value(port)) return usage();
    } else if (x == "--ssh") {
      if (!value(ssh)) return usage();
    } else if (x == "--output") {
      if (!value(output)) return usage();
    } else if (x == "--local-port") {
      std::optional<uint64_t> n;
      if (!value(v) || !(n = parse_unsigned(v, 1, 65535))) {
        std::fprintf(stderr, "bastionctl: --local-port needs a port number (1-65535)\n");
        return 2;
      }
      local_port = static_cast<int>(*n);
    } else if (!x.empty() && x[0] != '-' && target.empty()) {
      target = x;
    } else {
      return usage();
    }
  }
  if (target.empty() || host.empty()) return usage();
  // The target name becomes the SSH user and the forwarding host: a name,
  // never an option or a path.
  for (char c : target)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      std::fprintf(stderr, "bastionctl: %s is not a target name\n", display_escape(target).c_str());
      return 2;
    }
  std::vector<std::string> argv = {ssh, "-T"};
  if (!port.empty()) argv.insert(argv.end(), {"-p", port});
  argv.insert(argv.end(), ssh_opts.begin(), ssh_opts.end());
  argv.insert(argv.end(), {"-s", "-l", target, "--", host, "kubeconfig"});
  std::string out;
  int status = 0;
  if (!run_ssh(argv, out, status)) {
    std::fprintf(stderr, "bastionctl: cannot run %s: %s\n", ssh.c_str(), std::strerror(errno));
    return 1;
  }
  if (status != 0) {
    std::fprintf(stderr, "bastionctl: the bastion gave no kubeconfig (ssh exited with %d)\n", status);
    return 1;
  }
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("clusters") || !j["clusters"].is_array() || j["clusters"].empty() ||
      !j["clusters"][0].contains("cluster")) {
    std::fprintf(stderr, "bastionctl: the bastion's answer is not a kubeconfig\n");
    return 1;
  }
  j["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:" + std::to_string(local_port);
  const std::string text = j.dump(2) + "\n";
  if (!output.empty()) {
    if (!write_private(output, text)) {
      std::fprintf(stderr, "bastionctl: %s: %s\n", display_escape(output).c_str(), std::strerror(errno));
      return 1;
    }
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  std::fprintf(stderr, "bastionctl: forward the API with: ssh -N -L %d:%s:443 %s@%s%s%s\n", local_port,
               target.c_str(), target.c_str(), display_escape(host).c_str(), port.empty() ? "" : " -p ",
               port.c_str());
  return 0;
}

}  // namespace bastion

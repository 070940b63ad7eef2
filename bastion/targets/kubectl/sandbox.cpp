#include "targets/kubectl/sandbox.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

namespace bastion {
namespace {

constexpr const char* kNoEditor = "/bin/false";  // kubectl edit & co. get an editor that refuses

bool is_symlink(const std::string& p, std::string& target) {
  char buf[PATH_MAX];
  const ssize_t n = readlink(p.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return false;
  target.assign(buf, static_cast<std::size_t>(n));
  return true;
}

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

std::string real_path(const std::string& p) {
  std::unique_ptr<char, decltype(&free)> r(realpath(p.c_str(), nullptr), &free);
  return r ? std::string(r.get()) : std::string();
}

bool under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

}  // namespace

std::vector<std::string> kubectl_environment(const std::string& home, const std::string& kubeconfig, bool pty) {
  std::vector<std::string> env = {"HOME=" + home, "KUBECONFIG=" + kubeconfig, "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
                                  std::string("KUBE_EDITOR=") + kNoEditor, std::string("EDITOR=") + kNoEditor,
                                  std::string("VISUAL=") + kNoEditor};
  if (pty) env.push_back("TERM=xterm-256color");
  return env;
}

std::vector<std::string> sandboxed_argv(const KubectlSandbox& s, const std::vector<std::string>& kubectl_argv,
                                        const std::vector<std::string>& env, const std::string& home, bool pty,
                                        std::string& error) {
  if (!s.enabled) return kubectl_argv;
  if (kubectl_argv.empty()) return error = "nothing to run", std::vector<std::string>{};
  if (access(s.bwrap.c_str(), X_OK) != 0)
    return error = "the kubectl sandbox needs bubblewrap: " + s.bwrap + " is not an executable (install Debian's "
                   "bubblewrap, or set kubectl_sandbox = false)",
           std::vector<std::string>{};
  const std::string kubectl = real_path(kubectl_argv[0]);
  if (kubectl.empty()) return error = "cannot resolve " + kubectl_argv[0], std::vector<std::string>{};
  std::vector<std::string> a = {s.bwrap, "--unshare-all", "--share-net", "--die-with-parent", "--clearenv",
                                "--cap-drop", "ALL"};
  if (!pty) a.push_back("--new-session");
  if (geteuid() == 0) {  // not root inside, and no capabilities outside
    for (const char* x : {"--unshare-user", "--uid", "65534", "--gid", "65534"}) a.push_back(x);
  }
  for (const auto& e : env) {
    const auto eq = e.find('=');
    a.insert(a.end(), {"--setenv", e.substr(0, eq), e.substr(eq + 1)});
  }
  a.insert(a.end(), {"--ro-bind", "/usr", "/usr"});
  // Merged /usr: /bin, /lib... are symlinks; otherwise bind them read-only.
  for (const std::string d : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    std::string target;
    if (is_symlink(d, target)) a.insert(a.end(), {"--symlink", target, d});
    else if (exists(d)) a.insert(a.end(), {"--ro-bind", d, d});
  }
  // TLS roots and name resolution; nothing else of /etc.
  for (const std::string f : {"/etc/ssl", "/etc/ca-certificates", "/etc/resolv.conf", "/etc/hosts",
                              "/etc/nsswitch.conf"})
    if (exists(f)) a.insert(a.end(), {"--ro-bind", f, f});
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
  // kubectl itself when it lives elsewhere (after the /tmp tmpfs, which would hide it).
  if (!under(kubectl, "/usr")) a.insert(a.end(), {"--ro-bind", kubectl, kubectl});
  // HOME read-write as itself; the sandbox's own root read-only (binds and /tmp keep theirs).
  a.insert(a.end(), {"--bind", home, home, "--remount-ro", "/", "--chdir", home, "--"});
  a.push_back(kubectl);
  a.insert(a.end(), kubectl_argv.begin() + 1, kubectl_argv.end());
  return a;
}

unsigned long kubectl_process_limit() {
  constexpr unsigned long kKubectlProcesses = 256;
  const uid_t uid = getuid();
  unsigned long threads = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream st(it->path() / "status");
    std::string line;
    bool mine = false;
    while (std::getline(st, line)) {
      if (line.starts_with("Uid:")) mine = std::strtoul(line.c_str() + 4, nullptr, 10) == uid;
      else if (line.starts_with("Threads:") && mine) threads += std::strtoul(line.c_str() + 8, nullptr, 10);
    }
  }
  return threads + kKubectlProcesses;
}

bool apply_kubectl_limits(unsigned long processes) {
  struct Lim {
    int resource;
    rlim_t value;
  };
  const Lim lims[] = {{RLIMIT_CPU, 600}, {RLIMIT_AS, rlim_t{4} << 30}, {RLIMIT_NPROC, processes}, {RLIMIT_CORE, 0}};
  for (const Lim& l : lims) {
    struct rlimit r;
    if (getrlimit(l.resource, &r) != 0) return false;
    r.rlim_cur = l.value < r.rlim_max ? l.value : r.rlim_max;
    if (r.rlim_max == RLIM_INFINITY || r.rlim_max > l.value) r.rlim_max = l.value;
    if (setrlimit(l.resource, &r) != 0) return false;
  }
  return true;
}

}  // namespace bastion

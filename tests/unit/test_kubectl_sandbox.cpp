// The kubectl child's sandbox argv, environment and limits (issue 10).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "targets/kubectl/sandbox.h"

using namespace bastion;
using V = std::vector<std::string>;

namespace {
// The words after `flag` (e.g. every source of --ro-bind).
V after(const V& a, const std::string& flag) {
  V out;
  for (std::size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] == flag) out.push_back(a[i + 1]);
  return out;
}
}  // namespace

TEST_CASE("kubectl's environment: editors refuse, no plugin PATH", "[kubectl]") {
  CHECK(kubectl_environment("/tmp/h", "/tmp/h/kubeconfig", false) ==
        V{"HOME=/tmp/h", "KUBECONFIG=/tmp/h/kubeconfig", "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
          "KUBE_EDITOR=/bin/false", "EDITOR=/bin/false", "VISUAL=/bin/false"});
  CHECK(kubectl_environment("/tmp/h", "/tmp/h/kubeconfig", true).back() == "TERM=xterm-256color");
}

TEST_CASE("the sandbox shows kubectl only the system and its HOME", "[kubectl]") {
  const V env = kubectl_environment("/tmp/h", "/tmp/h/kubeconfig", false);
  std::string err;
  const V a = sandboxed_argv(KubectlSandbox{true, "/usr/bin/bwrap"}, {"/usr/bin/sh", "get", "pods"}, env, "/tmp/h", false, err);
  REQUIRE(err.empty());
  REQUIRE(a.size() > 10);
  CHECK(a[0] == "/usr/bin/bwrap");
  for (const char* f : {"--unshare-all", "--share-net", "--die-with-parent", "--clearenv", "--new-session"})
    CHECK(std::count(a.begin(), a.end(), f) == 1);
  CHECK(after(a, "--cap-drop") == V{"ALL"});
  // Read-only: /usr and a few files of /etc; read-write: HOME only.
  for (const auto& src : after(a, "--ro-bind"))
    CHECK((src == "/usr" || src == "/etc/ssl" || src == "/etc/ca-certificates" || src == "/etc/resolv.conf" ||
           src == "/etc/hosts" || src == "/etc/nsswitch.conf" || src.starts_with("/lib") || src == "/bin" || src == "/sbin"));
  CHECK(after(a, "--bind") == V{"/tmp/h"});
  CHECK(after(a, "--remount-ro") == V{"/"});
  CHECK(after(a, "--tmpfs") == V{"/tmp"});
  CHECK(after(a, "--chdir") == V{"/tmp/h"});
  CHECK(after(a, "--setenv") == V{"HOME", "KUBECONFIG", "PATH", "LANG", "KUBE_EDITOR", "EDITOR", "VISUAL"});
  const auto dash = std::find(a.begin(), a.end(), "--");
  REQUIRE(dash != a.end());
  CHECK(V(dash + 1, a.end()) == V{"/usr/bin/dash", "get", "pods"});  // the resolved program, its argv
  if (geteuid() == 0) CHECK(after(a, "--uid") == V{"65534"});
  // On a pty it keeps its controlling terminal (window changes reach it).
  const V on_pty = sandboxed_argv(KubectlSandbox{}, {"/usr/bin/sh"}, env, "/tmp/h", true, err);
  CHECK(std::count(on_pty.begin(), on_pty.end(), std::string("--new-session")) == 0);
}

TEST_CASE("the sandbox fails closed", "[kubectl]") {
  std::string err;
  CHECK(sandboxed_argv(KubectlSandbox{true, "/nonexistent/bwrap"}, {"/usr/bin/sh"}, {}, "/tmp/h", false, err).empty());
  CHECK(err == "the kubectl sandbox needs bubblewrap: /nonexistent/bwrap is not an executable (install Debian's "
               "bubblewrap, or set kubectl_sandbox = false)");
  err.clear();
  CHECK(sandboxed_argv(KubectlSandbox{}, {"/nonexistent/kubectl"}, {}, "/tmp/h", false, err).empty());
  CHECK(err == "cannot resolve /nonexistent/kubectl");
  CHECK(sandboxed_argv(KubectlSandbox{false, "/nonexistent/bwrap"}, {"/x", "y"}, {}, "/tmp/h", false, err) == V{"/x", "y"});
}

TEST_CASE("kubectl's resource limits", "[kubectl]") {
  const unsigned long nproc = kubectl_process_limit();
  CHECK(nproc > 256);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!apply_kubectl_limits(nproc)) _exit(1);
    struct rlimit r;
    getrlimit(RLIMIT_CPU, &r);
    if (r.rlim_cur != 600 || r.rlim_max != 600) _exit(2);
    getrlimit(RLIMIT_AS, &r);
    if (r.rlim_cur != rlim_t{4} << 30) _exit(3);
    getrlimit(RLIMIT_NPROC, &r);
    if (r.rlim_cur != nproc) _exit(4);
    getrlimit(RLIMIT_CORE, &r);
    if (r.rlim_cur != 0 || r.rlim_max != 0) _exit(5);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

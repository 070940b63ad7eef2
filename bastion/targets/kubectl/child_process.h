// A child program with its stdio on pipes or on a pseudo-terminal, started
// with an exact argv and environment (no shell, nothing inherited), its
// output read without blocking. RAII: the destructor kills and reaps it.
#pragma once
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

namespace bastion {

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is the program's path
    std::vector<std::string> env;   // "KEY=value", the whole environment
    std::string cwd;
    bool pty = false;
    unsigned long limit_processes = 0;  // >0: kubectl's resource limits (sandbox.h), set before exec
    // Set: the child gives up every group and becomes this uid/gid before
    // exec (bastiond running as root runs kubectl as an unprivileged user).
    std::optional<std::pair<uid_t, gid_t>> run_as;
    int cols = 80, rows = 24;
  };
  // Null + error if it cannot be started.
  static std::unique_ptr<ChildProcess> spawn(const Options& o, std::string& error);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The fds to poll for output (the pty, or stdout and stderr).
  std::vector<int> output_fds() const;
  // Reads what is available from `fd` into `out`; false at EOF.
  bool read(int fd, std::string& out, std::size_t max);
  // Writes as much as the child takes now; returns bytes written (-1: gone).
  long write(std::string_view data);
  void close_stdin();
  void resize(int cols, int rows);
  void signal(int sig);
  // Reaps without blocking once it exited: true + status.
  bool reap(int& wait_status);
  bool uses_pty() const { return pty_ >= 0; }
  bool output_open() const;
  bool is_stderr(int fd) const { return fd == err_; }
  void stop();  // SIGTERM, then SIGKILL after a grace period; reaps

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int pty_ = -1, in_ = -1, out_ = -1, err_ = -1;
  bool reaped_ = false;
};

}  // namespace bastion

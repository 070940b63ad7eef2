#include "targets/kubectl/child_process.h"

#include <grp.h>

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "targets/kubectl/sandbox.h"

namespace bastion {
namespace {

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// In the child, after fork: close every descriptor but stdio and `keep`
// (async-signal-safe). Other sessions' sockets, the listening socket and any
// file the bastion has open must not outlive the exec, whether or not whoever
// opened them remembered O_CLOEXEC.
void close_inherited(int keep) {
  const unsigned lo = 3, k = static_cast<unsigned>(keep);
  bool ok = true;
  if (k > lo) ok = close_range(lo, k - 1, 0) == 0;
  ok = ok && close_range(std::max(lo, k + 1), ~0U, 0) == 0;
  if (ok) return;
  const long max = sysconf(_SC_OPEN_MAX);  // no close_range: close one by one
  for (int fd = 3; fd < (max > 0 ? max : 65536); ++fd)
    if (fd != keep) ::close(fd);
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::spawn(const Options& o, std::string& error) {
  if (o.argv.empty()) return error = "nothing to run", nullptr;
  std::vector<char*> argv, envp;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : o.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::unique_ptr<ChildProcess> c(new ChildProcess());
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};
  // Tells the parent whether exec worked (the write end closes on exec).
  if (pipe2(status, O_CLOEXEC) != 0) return error = std::strerror(errno), nullptr;
  pid_t pid;
  if (o.pty) {
    struct winsize ws{};
    ws.ws_col = static_cast<unsigned short>(o.cols);
    ws.ws_row = static_cast<unsigned short>(o.rows);
    int master = -1;
    pid = forkpty(&master, nullptr, nullptr, &ws);
    if (pid > 0) {
      c->pty_ = master;
      fcntl(master, F_SETFD, FD_CLOEXEC);
      set_nonblocking(master);
    }
  } else {
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
      error = std::strerror(errno);
      for (int* p : {in, out, err, status}) close_fd(p[0]), close_fd(p[1]);
      return nullptr;
    }
    pid = fork();
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
    } else if (pid > 0) {
      c->in_ = in[1];
      c->out_ = out[0];
      c->err_ = err[0];
      close_fd(in[0]);
      close_fd(out[1]);
      close_fd(err[1]);
      set_nonblocking(c->in_);
      set_nonblocking(c->out_);
      set_nonblocking(c->err_);
    }
  }
  if (pid < 0) {
    error = std::strerror(errno);
    for (int* p : {in, out, err, status}) close_fd(p[0]), close_fd(p[1]);
    return nullptr;
  }
  if (pid == 0) {
    // The child: a clean signal state, then exec. Only async-signal-safe calls.
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    close_inherited(status[1]);
    if (o.run_as && (setgroups(0, nullptr) != 0 || setgid(o.run_as->second) != 0 || setuid(o.run_as->first) != 0 ||
                     setuid(0) == 0)) {  // fail closed: never kubectl as root (and root must be gone for good)
      const int e = errno ? errno : EPERM;
      (void)!::write(status[1], &e, sizeof e);
      _exit(127);
    }
    if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) _exit(127);
    if (o.limit_processes > 0 && !apply_kubectl_limits(o.limit_processes)) {  // fail closed: no child without its limits
      const int e = errno;
      (void)!::write(status[1], &e, sizeof e);
      _exit(127);
    }
    execve(argv[0], argv.data(), envp.data());
    const int e = errno;
    (void)!::write(status[1], &e, sizeof e);
    _exit(127);
  }
  c->pid_ = pid;
  close_fd(status[1]);
  int child_errno = 0;
  const ssize_t n = ::read(status[0], &child_errno, sizeof child_errno);
  close_fd(status[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    error = o.argv[0] + ": " + std::strerror(child_errno);
    int st;
    waitpid(pid, &st, 0);
    c->reaped_ = true;
    return nullptr;
  }
  return c;
}

ChildProcess::~ChildProcess() {
  stop();
  close_fd(pty_);
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
}

std::vector<int> ChildProcess::output_fds() const {
  std::vector<int> v;
  for (int fd : {pty_, out_, err_})
    if (fd >= 0) v.push_back(fd);
  return v;
}

bool ChildProcess::output_open() const { return pty_ >= 0 || out_ >= 0 || err_ >= 0; }

bool ChildProcess::read(int fd, std::string& out, std::size_t max) {
  char buf[32768];
  while (max > 0) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, max));
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      max -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    // EOF, or EIO from a pty whose child side is gone.
    for (int* f : {&pty_, &out_, &err_})
      if (*f == fd) close_fd(*f);
    return false;
  }
  return true;
}

long ChildProcess::write(std::string_view data) {
  const int fd = pty_ >= 0 ? pty_ : in_;
  if (fd < 0) return -1;
  const ssize_t n = ::write(fd, data.data(), data.size());
  if (n >= 0) return n;
  return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

void ChildProcess::close_stdin() {
  if (pty_ >= 0) {
    const char eot = 4;  // a pty has no half-close: end of input is Ctrl-D
    (void)!::write(pty_, &eot, 1);
  } else {
    close_fd(in_);
  }
}

void ChildProcess::resize(int cols, int rows) {
  if (pty_ < 0) return;
  struct winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  ioctl(pty_, TIOCSWINSZ, &ws);
}

void ChildProcess::signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

bool ChildProcess::reap(int& wait_status) {
  if (reaped_ || pid_ <= 0) return false;
  const pid_t r = waitpid(pid_, &wait_status, WNOHANG);
  if (r == pid_) reaped_ = true;
  return r == pid_;
}

void ChildProcess::stop() {
  if (pid_ <= 0 || reaped_) return;
  int st;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 20; ++i) {
    if (waitpid(pid_, &st, WNOHANG) == pid_) return void(reaped_ = true);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ::kill(pid_, SIGKILL);
  waitpid(pid_, &st, 0);
  reaped_ = true;
}

}  // namespace bastion

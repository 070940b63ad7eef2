#include "front/privileges.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.h"

namespace bastion {
namespace {

namespace fs = std::filesystem;

std::string errno_text() { return std::strerror(errno); }

// Drops every capability a non-root process may hold (ambient ones included,
// so children such as kubectl do not inherit them either).
bool clear_capabilities(std::string& error) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return error = "cannot clear ambient capabilities: " + errno_text(), false;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capset, &hdr, data) != 0) return error = "cannot drop capabilities: " + errno_text(), false;
  return true;
}

// Takes the user's identity; only async-signal-safe calls (used in a child).
bool become(const UnixUser& u) {
  return setgroups(u.groups.size(), u.groups.data()) == 0 && setgid(u.gid) == 0 && setuid(u.uid) == 0;
}

std::string wrong_starter(const std::string& user) {
  return "user = \"" + user + "\" needs bastiond started as root (or as " + user + "); it runs as uid " +
         std::to_string(geteuid());
}

}  // namespace

bool disable_core_dumps(std::string& error) {
  const rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) return error = "cannot set RLIMIT_CORE to 0: " + errno_text(), false;
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return error = "cannot clear the dumpable flag: " + errno_text(), false;
  return true;
}

std::string data_dir_problem(const Config& cfg, const UnixUser& u) {
  struct Need {
    std::string path;
    int mode;
    const char* what;
  };
  const Need needs[] = {{cfg.data_dir, W_OK | X_OK, "writable"},
                        {cfg.recordings_dir(), W_OK | X_OK, "writable"},
                        {cfg.audit_db_path(), R_OK | W_OK, "readable and writable"},
                        {cfg.data_dir + "/mask.key", R_OK, "readable"},
                        {cfg.data_dir + "/kube-proxy.pem", R_OK, "readable"},
                        {cfg.data_dir + "/kube-token.key", R_OK, "readable"}};
  for (const auto& n : needs) {
    struct stat st{};
    if (lstat(n.path.c_str(), &st) != 0) continue;  // created later, by the user
    // access() as the user itself: owner, group and other bits, ACLs and
    // every parent folder's search bit all count, as they will after the drop.
    const pid_t pid = fork();
    if (pid < 0) return "cannot check " + n.path + ": " + errno_text();
    if (pid == 0) _exit((geteuid() == u.uid || become(u)) && access(n.path.c_str(), n.mode) == 0 ? 0 : 1);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return "data_dir: " + n.path + " is not " + n.what + " by user \"" + u.name + "\" (chown -R " + u.name +
             " " + cfg.data_dir + ")";
  }
  return "";
}

std::vector<std::string> run_as_problems(const Config& cfg) {
  if (cfg.user.empty()) return {};
  std::string error;
  auto u = find_user(cfg.user, error);
  if (!u) return {error};
  if (geteuid() != 0 && geteuid() != u->uid) return {wrong_starter(cfg.user)};
  if (u->uid == 0) return {"user = \"" + cfg.user + "\" is root; name an unprivileged user"};
  const std::string problem = data_dir_problem(cfg, *u);
  return problem.empty() ? std::vector<std::string>{} : std::vector<std::string>{problem};
}

bool plan_privilege_drop(const Config& cfg, std::optional<UnixUser>& drop_to, std::string& error) {
  drop_to.reset();
  if (cfg.user.empty()) {
    if (geteuid() == 0)
      log_warn("running as root: set user = \"bastion\" in the config to run unprivileged after binding");
    return true;
  }
  auto u = find_user(cfg.user, error);
  if (!u) return false;
  if (geteuid() != 0) {
    if (u->uid == geteuid() && u->uid == getuid()) return true;  // already that user
    return error = wrong_starter(cfg.user), false;
  }
  if (u->uid == 0) return error = "user = \"" + cfg.user + "\" is root; name an unprivileged user", false;
  std::error_code ec;
  if (!fs::exists(cfg.data_dir, ec)) {
    // The parents as root would make them; data_dir itself is the user's.
    fs::create_directories(fs::path(cfg.data_dir).parent_path(), ec);
    if (ec || mkdir(cfg.data_dir.c_str(), 0750) != 0)
      return error = "cannot create data_dir " + cfg.data_dir + ": " + (ec ? ec.message() : errno_text()), false;
    const int fd = open(cfg.data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const bool owned = fd >= 0 && fchown(fd, u->uid, u->gid) == 0;
    if (fd >= 0) close(fd);
    if (!owned) return error = "cannot give data_dir " + cfg.data_dir + " to user " + cfg.user + ": " + errno_text(), false;
  }
  const std::string problem = data_dir_problem(cfg, *u);
  if (!problem.empty()) return error = problem, false;
  drop_to = std::move(u);
  return true;
}

bool drop_privileges(const std::optional<UnixUser>& drop_to, std::string& error) {
  if (!drop_to) return geteuid() == 0 ? true : clear_capabilities(error);
  const UnixUser& u = *drop_to;
  if (setgroups(u.groups.size(), u.groups.data()) != 0) return error = "setgroups: " + errno_text(), false;
  if (setgid(u.gid) != 0) return error = "setgid: " + errno_text(), false;
  if (setuid(u.uid) != 0) return error = "setuid: " + errno_text(), false;
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
    return error = "cannot read back the process ids: " + errno_text(), false;
  if (ru != u.uid || eu != u.uid || su != u.uid || rg != u.gid || eg != u.gid || sg != u.gid)
    return error = "the process ids are not all " + u.name + "'s after the drop", false;
  if (setuid(0) == 0 || seteuid(0) == 0) return error = "root could be regained after the drop", false;
  // A uid change resets the dumpable flag to fs.suid_dumpable: clear it again.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return error = "cannot clear the dumpable flag: " + errno_text(), false;
  log_info("running as an unprivileged user", {{"user", u.name}, {"uid", std::to_string(u.uid)}});
  return true;
}

}  // namespace bastion

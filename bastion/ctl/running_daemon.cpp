#include "ctl/running_daemon.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/parse_number.h"

namespace bastion {
namespace {

constexpr unsigned long kListening = 0x10000;  // __SO_ACCEPTCON
constexpr unsigned long kStream = 1;           // SOCK_STREAM

std::string read_link(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

std::optional<unsigned long> parse_hex(const std::string& s) {
  if (s.empty() || s.size() > 16 || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    return std::nullopt;
  return std::strtoul(s.c_str(), nullptr, 16);
}

}  // namespace

std::vector<std::string> listening_unix_paths(const std::string& text, const std::set<unsigned long>& inodes) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    // Num RefCount Protocol Flags Type St Inode [Path]; the path may hold spaces.
    std::istringstream f(line);
    std::string num, refs, proto, flags, type, st, inode;
    if (!(f >> num >> refs >> proto >> flags >> type >> st >> inode)) continue;
    const auto fl = parse_hex(flags), ty = parse_hex(type);
    const auto ino = parse_unsigned(inode, 1, ULONG_MAX);
    if (!fl || !ty || !ino || !(*fl & kListening) || *ty != kStream || !inodes.count(*ino)) continue;
    std::string path;
    std::getline(f >> std::ws, path);
    if (path.empty() || path[0] != '/') continue;  // abstract (@...), unnamed or relative
    out.push_back(path);
  }
  return out;
}

std::vector<std::string> listening_unix_sockets(pid_t pid, std::string& error) {
  const std::string dir = "/proc/" + std::to_string(pid);
  DIR* d = opendir((dir + "/fd").c_str());
  if (!d) {
    error = "cannot read " + dir + "/fd: " + std::strerror(errno) +
            (errno == EACCES ? " (bastiond is not dumpable: run this as root)" : "");
    return {};
  }
  std::set<unsigned long> inodes;
  while (const dirent* e = readdir(d)) {
    const std::string target = read_link(dir + "/fd/" + e->d_name);
    if (target.rfind("socket:[", 0) != 0 || target.back() != ']') continue;
    if (const auto ino = parse_unsigned(target.substr(8, target.size() - 9), 1, ULONG_MAX)) inodes.insert(*ino);
  }
  closedir(d);
  std::ifstream f(dir + "/net/unix");
  std::stringstream text;
  text << f.rdbuf();
  if (!f) {
    error = "cannot read " + dir + "/net/unix";
    return {};
  }
  auto paths = listening_unix_paths(text.str(), inodes);
  if (paths.empty()) error = "process " + std::to_string(pid) + " listens on no Unix socket";
  return paths;
}

std::vector<pid_t> running_bastionds() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (const dirent* e = readdir(d)) {
    const auto pid = parse_unsigned(e->d_name, 1, 4194304);
    if (!pid) continue;
    std::string exe = read_link("/proc/" + std::string(e->d_name) + "/exe");
    const std::string deleted = " (deleted)";  // replaced by an upgrade: still bastiond
    if (exe.size() > deleted.size() && exe.compare(exe.size() - deleted.size(), deleted.size(), deleted) == 0)
      exe.resize(exe.size() - deleted.size());
    if (exe.size() >= 9 && exe.compare(exe.size() - 9, 9, "/bastiond") == 0) out.push_back(static_cast<pid_t>(*pid));
  }
  closedir(d);
  return out;
}

std::string path_of(pid_t pid, const std::string& path) {
  std::string p = path;
  if (!p.empty() && p[0] != '/' && pid > 0) {
    const std::string cwd = read_link("/proc/" + std::to_string(pid) + "/cwd");
    if (cwd.empty()) return p;  // not ours to read: left relative
    p = cwd + "/" + p;
  }
  char* real = realpath(p.c_str(), nullptr);
  if (!real) return p;
  std::string out(real);
  std::free(real);
  return out;
}

}  // namespace bastion

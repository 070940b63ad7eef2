#include "audit/recording_retention.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "audit/recording_path.h"
#include "common/time_util.h"

namespace bastion {
namespace {

// Closes the descriptor it holds.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Unlinks REL ("YYYY-MM-DD/NAME.cast") beneath DIR: the day directory is
// opened with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS and the file unlinked in
// it, so a symlinked day directory cannot redirect the unlink. A missing file
// is fine (already gone); a non-regular one is refused.
bool unlink_beneath(int dir, const std::string& rel, std::string& why) {
  const auto slash = rel.rfind('/');
  const std::string day = rel.substr(0, slash), name = rel.substr(slash + 1);
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const Fd d{static_cast<int>(::syscall(SYS_openat2, dir, day.c_str(), &how, sizeof how))};
  if (d.fd < 0) {
    if (errno == ENOENT) return true;
    if (errno == ENOTDIR || errno == ELOOP || errno == EXDEV)
      return why = "day directory: a symbolic link or not a directory; left alone", false;
    return why = std::string("day directory: ") + std::strerror(errno), false;
  }
  struct stat st{};
  if (::fstatat(d.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? true : (why = std::strerror(errno), false);
  if (!S_ISREG(st.st_mode)) return why = "not a regular file; left alone", false;
  if (::unlinkat(d.fd, name.c_str(), 0) != 0 && errno != ENOENT) return why = std::strerror(errno), false;
  return true;
}

}  // namespace

bool remove_recording_file(const std::string& recordings_dir, const std::string& session_id,
                           const std::string& stored_path, std::string& why) {
  const auto rel = recording_relative_path(recordings_dir, session_id, stored_path);
  if (!rel) return why = "not a recording of session " + session_id + " under " + recordings_dir, false;
  const Fd dir{::open(recordings_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)};
  if (dir.fd < 0) return why = recordings_dir + ": " + std::strerror(errno), false;
  return unlink_beneath(dir.fd, *rel, why);
}

PruneReport prune_recordings(AuditStore& store, const std::string& recordings_dir, int64_t retention_seconds,
                             int64_t now, const std::string& by, bool dry_run) {
  PruneReport report;
  if (retention_seconds <= 0) return report;
  std::string error;
  // ended_at carries milliseconds ("...SS.mmmZ"): so must the cutoff, or a
  // session that ended within the cutoff's second would be pruned early
  // ('.' sorts before 'Z'), and verify would call the prune premature.
  std::string cutoff = iso8601(now - retention_seconds);
  cutoff.insert(cutoff.size() - 1, ".000");
  const auto rows = store.recordings_ended_before(cutoff, error);
  if (!error.empty()) {
    report.errors.push_back("audit store: " + error);
    return report;
  }
  const Fd dir{::open(recordings_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)};
  if (dir.fd < 0) {
    report.errors.push_back(recordings_dir + ": " + std::strerror(errno));
    return report;
  }
  for (const auto& r : rows) {
    const auto rel = recording_relative_path(recordings_dir, r.session_id, r.path);
    if (!rel) {
      report.errors.push_back(r.path + ": not a recording of session " + r.session_id + " under " + recordings_dir +
                              "; left alone");
      continue;
    }
    if (dry_run) {
      report.pruned.push_back(r.path);
      continue;
    }
    // The file goes first: a row marked pruned over a file still there
    // would hide that file from verification.
    std::string why;
    if (!unlink_beneath(dir.fd, *rel, why)) {
      report.errors.push_back(r.path + ": " + why);
      continue;
    }
    if (!store.recording_pruned(r.id, iso8601(now), by, error)) {
      report.errors.push_back(r.path + ": audit store: " + error);
      continue;
    }
    report.pruned.push_back(r.path);
  }
  return report;
}

}  // namespace bastion

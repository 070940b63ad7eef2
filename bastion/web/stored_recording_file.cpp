#include "web/stored_recording_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "audit/recording_path.h"
#include "audit/audit_source.h"
#include "recordings/stored_recording.h"

namespace bastion {
namespace {

// Holds one of the concurrent fetch slots for its lifetime.
class FetchSlot {
 public:
  explicit FetchSlot(std::atomic<int>& n) : n_(n), held_(n.fetch_add(1) < kMaxConcurrentFetches) {}
  FetchSlot(const FetchSlot&) = delete;
  FetchSlot& operator=(const FetchSlot&) = delete;
  ~FetchSlot() { n_.fetch_sub(1); }
  bool held() const { return held_; }

 private:
  std::atomic<int>& n_;
  bool held_;
};

}  // namespace

std::optional<OpenRecording> open_stored_session_recording(const StoredRecordingSource& src,
                                                           const std::string& audit_db,
                                                           const std::string& store_password_file,
                                                           const std::string& recordings_dir,
                                                           std::string_view session_id, const std::string& stored_path,
                                                           std::string& why) {
  if (!src.store.enabled()) return std::nullopt;
  if (!recording_relative_path(recordings_dir, session_id, stored_path))
    return why = "the store names a recording outside this session's files", std::nullopt;
  const auto db = open_audit_source(audit_db, store_password_file, why);
  if (!db) return std::nullopt;
  const auto where = stored_recording(*db, src.store, recordings_dir, stored_path, why);
  if (!where) {
    if (why.empty()) why = "not on local disk, and not in the recordings store";
    return std::nullopt;
  }
  const FetchSlot slot(*src.fetching);
  if (!slot.held()) return why = "too many recordings being fetched from the store", std::nullopt;
  OwnedFd fd(::memfd_create("bastion-recording", MFD_CLOEXEC));
  if (!fd) return why = std::string("memfd_create: ") + std::strerror(errno), std::nullopt;
  uint64_t size = 0;
  bool write_failed = false;
  if (!fetch_stored_recording(src.store, *where, src.max_bytes,
                              [&](std::string_view d) {
                                while (!d.empty() && !write_failed) {
                                  const ssize_t n = ::write(fd.get(), d.data(), d.size());
                                  if (n <= 0) write_failed = true;
                                  else d.remove_prefix(static_cast<std::size_t>(n)), size += static_cast<uint64_t>(n);
                                }
                              },
                              why))
    return why = where->url + ": " + why, std::nullopt;
  if (write_failed) return why = "cannot hold the recording in memory", std::nullopt;
  return OpenRecording{std::move(fd), size};
}

}  // namespace bastion

// The auditor page's recording route for a recording shipped to the
// recordings_store: the object is read (at most `max_bytes`) into an
// anonymous memory file and served like a local one. Only the object the
// store's row names for this very session, under the key bastiond derives
// from that row; at most kMaxConcurrentFetches at once (each holds up to
// max_bytes of memory).
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "audit/recording_file.h"

namespace bastion {

inline constexpr int kMaxConcurrentFetches = 2;

struct StoredRecordingSource {
  RecordingsStoreConfig store;  // with its keys, read at config load
  uint64_t max_bytes = 0;
  std::shared_ptr<std::atomic<int>> fetching = std::make_shared<std::atomic<int>>(0);
};

std::optional<OpenRecording> open_stored_session_recording(const StoredRecordingSource& src,
                                                           const std::string& audit_db,
                                                           const std::string& store_password_file,
                                                           const std::string& recordings_dir,
                                                           std::string_view session_id, const std::string& stored_path,
                                                           std::string& why);

}  // namespace bastion

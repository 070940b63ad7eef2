// Reading a recording that is no longer on local disk (bastionctl recording
// cat/play/verify and bastionctl verify): its location row names the object;
// the key must be the one bastiond derives from the recording's own row, so
// an edited location cannot point a read at another object. What is read is
// then checked like a local file (hash chain, signed digest).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace bastion {

class AuditSource;

struct StoredRecording {
  std::string object_key;
  std::string url;
};

// The object of the recording at `path` when its location is "stored";
// nullopt with `error` "" when it is not stored, with `error` when the row is
// inconsistent or the store cannot be read. Either backend (a SQLite file or
// the PostgreSQL store).
std::optional<StoredRecording> stored_recording(AuditSource& src, const RecordingsStoreConfig& store,
                                                const std::string& recordings_dir, const std::string& path,
                                                std::string& error);

// Reads the store's keys when the config was loaded without its files.
bool load_store_keys(RecordingsStoreConfig& store, std::string& error);

// Streams the object to `sink`; more than `max_bytes` fails.
bool fetch_stored_recording(const RecordingsStoreConfig& store, const StoredRecording& r, uint64_t max_bytes,
                            const std::function<void(std::string_view)>& sink, std::string& error);

}  // namespace bastion

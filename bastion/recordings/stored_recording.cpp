#include "recordings/stored_recording.h"

#include "audit/audit_source.h"
#include "common/secret_file.h"
#include "recordings/object_key.h"
#include "recordings/s3_client.h"

namespace bastion {
namespace {

constexpr const char* kLocationSql =
    "SELECT r.session_id, l.state, l.object_key FROM recordings r JOIN "
    "recording_locations l ON l.recording_id = r.id WHERE r.path = ? "
    "ORDER BY r.id DESC LIMIT 1";

// The object a "stored" location row names, once its key is the one
// bastiond derives for the recording.
std::optional<StoredRecording> checked(const RecordingsStoreConfig& store, const std::string& recordings_dir,
                                       const std::string& path, const std::string& session, const std::string& state,
                                       const std::string& key, std::string& error) {
  if (state != "stored") return std::nullopt;
  // The key is the prefix plus "YYYY-MM-DD/SESSION-N.cast": the path's
  // folder above that is the recordings_dir of the instance that wrote it,
  // which on a shared store need not be this one's.
  auto expect = recording_object_key(store.prefix, recordings_dir, session, path);
  if (!expect) {
    const auto file = path.rfind('/');
    const auto day = file == std::string::npos || file == 0 ? std::string::npos : path.rfind('/', file - 1);
    if (day != std::string::npos) expect = recording_object_key(store.prefix, path.substr(0, day), session, path);
  }
  if (!expect || *expect != key) {
    error = "its location row names object " + key + ", not the one bastiond writes for it";
    return std::nullopt;
  }
  if (!store.enabled()) {
    error = "stored in a recordings_store, but the config names none";
    return std::nullopt;
  }
  return StoredRecording{key, S3Client(store).url(key)};
}

}  // namespace

std::optional<StoredRecording> stored_recording(AuditSource& src, const RecordingsStoreConfig& store,
                                                const std::string& recordings_dir, const std::string& path,
                                                std::string& error) {
  error.clear();
  // A store that predates recording_locations has nothing stored.
  if (!src.table_exists("recording_locations")) return std::nullopt;
  const auto r = src.rows(kLocationSql, {path}, error);
  if (!r || !r->next()) {
    if (r) r->done(error);
    return std::nullopt;
  }
  return checked(store, recordings_dir, path, r->text(0), r->text(1), r->text(2), error);
}

bool load_store_keys(RecordingsStoreConfig& store, std::string& error) {
  if (!store.access_key.empty() && !store.secret_key.empty()) return true;
  for (auto [file, out] : {std::pair{&store.access_key_file, &store.access_key},
                           std::pair{&store.secret_key_file, &store.secret_key}}) {
    if (!read_secret_file(*file, out->bytes, error)) return false;
    while (!out->bytes.empty() && (out->bytes.back() == '\n' || out->bytes.back() == '\r')) out->bytes.pop_back();
  }
  return true;
}

bool fetch_stored_recording(const RecordingsStoreConfig& store, const StoredRecording& r, uint64_t max_bytes,
                            const std::function<void(std::string_view)>& sink, std::string& error) {
  RecordingsStoreConfig keyed = store;
  if (!load_store_keys(keyed, error)) return false;
  return S3Client(keyed).get(r.object_key, max_bytes, sink, error);
}

}  // namespace bastion

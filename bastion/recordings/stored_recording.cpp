#include "recordings/stored_recording.h"

#include "audit/audit_source.h"
#include "audit/sqlite_handles.h"
#include "common/secret_file.h"
#include "recordings/object_key.h"
#include "recordings/s3_client.h"

namespace bastion {
namespace {

std::string col(sqlite3_stmt* st, int c) {
  const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
  return t ? std::string(t, static_cast<std::size_t>(sqlite3_column_bytes(st, c))) : std::string();
}

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
  const auto expect = recording_object_key(store.prefix, recordings_dir, session, path);
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

std::optional<StoredRecording> stored_recording(sqlite3* db, const RecordingsStoreConfig& store,
                                                const std::string& recordings_dir, const std::string& path,
                                                std::string& error) {
  error.clear();
  // A store that predates recording_locations has nothing stored.
  const SqliteStmt has = prepare_sqlite(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='recording_locations'", error);
  if (!has) return std::nullopt;
  if (sqlite3_step(has.get()) != SQLITE_ROW) return std::nullopt;
  const SqliteStmt st = prepare_sqlite(db, kLocationSql, error);
  if (!st) return std::nullopt;
  sqlite3_bind_text(st.get(), 1, path.c_str(), static_cast<int>(path.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.get()) != SQLITE_ROW) return std::nullopt;
  return checked(store, recordings_dir, path, col(st.get(), 0), col(st.get(), 1), col(st.get(), 2), error);
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

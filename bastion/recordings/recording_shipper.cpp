#include "recordings/recording_shipper.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>

#include "audit/recording_retention.h"
#include "common/log.h"
#include "common/time_util.h"
#include "recordings/object_key.h"
#include "recordings/upload_backoff.h"
#include "audit/recording_file.h"

namespace bastion {

RecordingShipper::RecordingShipper(AuditStore& store, const RecordingsStoreConfig& cfg, std::string recordings_dir)
    : store_(store), s3_(cfg, &cancel_), prefix_(cfg.prefix), recordings_dir_(std::move(recordings_dir)) {
  thread_ = std::thread([this] { run(); });
}

RecordingShipper::~RecordingShipper() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cancel_.store(true);
  cv_.notify_all();
  thread_.join();
}

void RecordingShipper::wake() {
  {
    std::lock_guard<std::mutex> g(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void RecordingShipper::run() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    woken_ = false;
    lk.unlock();
    pass();
    lk.lock();
    // About once a second, sooner when woken: closing a recording is rare
    // enough that the poll costs one indexed query.
    cv_.wait_for(lk, std::chrono::seconds(1), [this] { return stop_ || woken_; });
  }
}

bool RecordingShipper::stopping() {
  std::lock_guard<std::mutex> g(mu_);
  return stop_;
}

void RecordingShipper::grow(const RecordingShipment& r) {
  const auto key = recording_object_key(prefix_, recordings_dir_, r.session_id, r.path);
  if (!key) return;  // shipped (or refused) at close
  std::string error;
  auto file = open_session_recording(recordings_dir_, r.session_id, r.path, error);
  if (!file) return;  // not there yet, or refused: it is looked at again at close
  error.clear();
  const int fd = file->fd.get();
  const uint64_t size = file->size;
  auto it = live_.find(r.id);
  if (it == live_.end() && size >= kS3PartSize && static_cast<int>(live_.size()) < kMaxLive) {
    MultipartUpload mp;
    if (store_.recording_location(r.id, "uploading", *key, error) && s3_.begin_multipart(*key, mp, error))
      it = live_.emplace(r.id, std::move(mp)).first;
  }
  // Only whole parts while it grows: the last (any size) goes at close.
  while (it != live_.end() && error.empty() && size - it->second.uploaded >= kS3PartSize && !stopping())
    s3_.upload_part(it->second, fd, kS3PartSize, error);
  if (!error.empty()) {
    // Given up for this recording: shipped whole once it closes.
    if (it != live_.end()) s3_.abort_multipart(it->second), live_.erase(it);
    failures_.fetch_add(1, std::memory_order_relaxed);
    log_warn("recording part not shipped: the recording goes whole at close",
             {{"session", r.session_id}, {"recording", r.path}, {"error", error}});
  }
}

bool RecordingShipper::finish_live(const RecordingShipment& r, const std::string& key, std::string& error) {
  MultipartUpload mp = std::move(live_.at(r.id));
  live_.erase(r.id);  // whatever happens: a retry ships it whole
  auto file = open_session_recording(recordings_dir_, r.session_id, r.path, error);
  if (!file) return s3_.abort_multipart(mp), false;
  bool ok = file->size >= mp.uploaded;
  if (!ok) error = r.path + ": shorter than the parts already shipped";
  const uint64_t size = file->size;
  while (ok && mp.uploaded < size)
    ok = s3_.upload_part(mp, file->fd.get(), std::min(kS3PartSize, size - mp.uploaded), error);
  S3Client::Put put;
  if (!ok || !s3_.complete_multipart(mp, put, error)) return s3_.abort_multipart(mp), false;
  if (put.etag != put.md5_hex && put.etag != put.whole_md5_hex)
    return error = "the store's ETag " + put.etag + " is not the MD5 sent", false;
  std::optional<uint64_t> got;
  std::string etag;
  if (!s3_.head(key, got, etag, error)) return false;
  if (!got || *got != put.size) return error = "the object's size does not read back as " + std::to_string(put.size), false;
  if (!store_.recording_location(r.id, "stored", key, error)) return false;
  remove_local(r);
  return true;
}

void RecordingShipper::remove_local(const RecordingShipment& r) {
  std::string why;
  if (!remove_recording_file(recordings_dir_, r.session_id, r.path, why))
    log_warn("recording shipped but the local copy cannot be removed", {{"recording", r.path}, {"error", why}});
}

void RecordingShipper::pass() {
  std::string error;
  // Long recordings go up in parts while they are written.
  const auto open = store_.recordings_open(kBatch, error);
  if (!error.empty()) {
    log_error("recordings store: cannot list open recordings", {{"error", error}});
    error.clear();
  }
  for (const auto& r : open) {
    if (stopping()) return;
    grow(r);
  }
  int64_t upto = floor_;
  const auto rows = store_.recordings_to_ship(floor_, kBatch, upto, error);
  if (!error.empty()) {
    log_error("recordings store: cannot list recordings to ship", {{"error", error}});
    return;
  }
  unshipped_.store(rows.size(), std::memory_order_relaxed);
  // Nothing pending at or below `upto` (no open recording either): the
  // next pass starts past it; otherwise just before the first pending one.
  floor_ = rows.empty() ? std::max(floor_, upto) : std::max(floor_, std::min(upto, rows.front().id - 1));
  std::set<int64_t> seen;
  for (const auto& r : rows) {
    seen.insert(r.id);
    Retry& retry = retries_[r.id];
    const double now = monotonic_seconds();
    if (retry.next > now) continue;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stop_) return;
    }
    std::string why;
    if (ship(r, why)) {
      retries_.erase(r.id);
      unshipped_.fetch_sub(1, std::memory_order_relaxed);
      log_info("recording shipped", {{"session", r.session_id}, {"recording", r.path}, {"object", s3_.url(*recording_object_key(prefix_, recordings_dir_, r.session_id, r.path))}});
      continue;
    }
    ++retry.failures;
    retry.next = monotonic_seconds() + static_cast<double>(upload_retry_delay(retry.failures));
    failures_.fetch_add(1, std::memory_order_relaxed);
    // It stays on disk, never deleted; said at the first failure, when the
    // reason changes and every tenth, so an outage does not flood the log.
    const bool news = why != retry.last_error;
    retry.last_error = why;
    if (retry.failures == 1 || news || retry.failures % 10 == 0)
      log_warn("recording not shipped: kept on local disk, will retry",
               {{"session", r.session_id}, {"recording", r.path}, {"attempts", std::to_string(retry.failures)},
                {"error", why}});
  }
  std::erase_if(retries_, [&](const auto& kv) { return !seen.count(kv.first); });
  // Parts of a recording neither open nor waiting any more (pruned, or past
  // this batch): given up, so nothing is held for it.
  for (const auto& r : open) seen.insert(r.id);
  for (auto it = live_.begin(); it != live_.end();)
    if (!seen.count(it->first)) s3_.abort_multipart(it->second), it = live_.erase(it);
    else ++it;
}

bool RecordingShipper::ship(const RecordingShipment& r, std::string& error) {
  const auto key = recording_object_key(prefix_, recordings_dir_, r.session_id, r.path);
  // A path bastiond does not write (an edited row): never read nor removed.
  if (!key) return error = "the store names a path outside recordings_dir's pattern: " + r.path, false;
  const bool local = ::access(r.path.c_str(), F_OK) == 0;
  if (!local) {
    // Stored but the row not yet updated (a stop between the two): the
    // object is there with the recording's size; verify checks its digest.
    std::optional<uint64_t> size;
    std::string etag;
    if (r.location == "uploading" && s3_.head(*key, size, etag, error) && size)
      return store_.recording_location(r.id, "stored", *key, error);
    return error = error.empty() ? "local file missing and not in the bucket: " + r.path : error, false;
  }
  if (live_.count(r.id)) return finish_live(r, *key, error);
  if (r.location != "uploading" && !store_.recording_location(r.id, "uploading", *key, error)) return false;
  // Opened beneath recordings_dir with no symlink on the way, as the web
  // page opens it: the row's path is data whoever can write the store chose.
  auto file = open_session_recording(recordings_dir_, r.session_id, r.path, error);
  if (!file) return false;
  S3Client::Put put;
  if (!s3_.put_fd(*key, file->fd.get(), put, error)) return false;
  // The store acknowledged these very bytes: a single-part ETag is their
  // MD5; a multipart one S3's MD5 of the parts' MD5s (some compatible
  // servers give the whole object's MD5 instead: also derived from them).
  if (put.etag != put.md5_hex && put.etag != put.whole_md5_hex)
    return error = "the store's ETag " + put.etag + " is not the MD5 sent", false;
  std::optional<uint64_t> size;
  std::string etag;
  if (!s3_.head(*key, size, etag, error)) return false;
  if (!size || *size != put.size)
    return error = "the object's size reads back as " + (size ? std::to_string(*size) : std::string("absent")) +
                   ", not " + std::to_string(put.size),
           false;
  if (!store_.recording_location(r.id, "stored", *key, error)) return false;
  remove_local(r);
  return true;
}

}  // namespace bastion

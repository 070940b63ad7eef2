// Ships closed recordings to the recordings_store (S3) on a thread of its
// own, so no session ever waits on the network. It works from the audit
// store, not from a queue of its own: every recording closed or interrupted
// and not yet stored is found there, after a restart too (nothing pending is
// lost), a batch at a time (bounded). Per recording: location "uploading",
// PUT with Content-MD5, the ETag checked against the MD5 and the size
// re-read with HEAD, location "stored", and only then the local file is
// removed. A failure leaves the file where it is (logged, counted) and is
// retried with backoff (upload_backoff.h) for as long as it takes.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "audit/audit_store.h"
#include "config/config.h"
#include "recordings/s3_client.h"

namespace bastion {

class RecordingShipper {
 public:
  RecordingShipper(AuditStore& store, const RecordingsStoreConfig& cfg, std::string recordings_dir);
  ~RecordingShipper();  // stops and joins: an upload under way is abandoned, retried at the next start
  RecordingShipper(const RecordingShipper&) = delete;
  RecordingShipper& operator=(const RecordingShipper&) = delete;

  // Look for work now (a recording closed).
  void wake();
  uint64_t unshipped() const { return unshipped_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  struct Retry {
    int failures = 0;
    double next = 0;  // monotonic seconds
    std::string last_error;
  };
  static constexpr int kBatch = 256;  // recordings looked at per pass
  // Open recordings shipped in parts while they grow, at most this many at
  // once (each holds its parts' MD5s); others are shipped whole at close.
  static constexpr int kMaxLive = 16;
  void run();
  void pass();
  bool ship(const RecordingShipment& r, std::string& error);
  // Uploads the full kS3PartSize parts an open recording has grown by.
  void grow(const RecordingShipment& r);
  // Ships a closed recording whose parts went up while it grew.
  bool finish_live(const RecordingShipment& r, const std::string& key, std::string& error);
  bool stopping();
  // Removes the local copy beneath recordings_dir (never through a symlink).
  void remove_local(const RecordingShipment& r);

  AuditStore& store_;
  std::atomic<bool> cancel_{false};  // set when stopping: a transfer under way is abandoned
  S3Client s3_;
  std::string prefix_;
  std::string recordings_dir_;
  int64_t floor_ = 0;  // every recording up to this id is stored, pruned or never shippable again
  std::map<int64_t, Retry> retries_;  // only recordings of the current batch
  std::map<int64_t, MultipartUpload> live_;  // open recordings with parts in the store
  std::atomic<uint64_t> unshipped_{0}, failures_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, woken_ = false;
  std::thread thread_;
};

}  // namespace bastion

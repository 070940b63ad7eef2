// A minimal S3 client for the recordings bucket: PUT of a file, HEAD and a
// streamed GET of one object, path-style (ENDPOINT/BUCKET/KEY), signed by
// libcurl's own AWS Signature V4 (CURLOPT_AWS_SIGV4): no signing code here.
// Every request is bounded in time; the keys never reach a log or an error.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret_file.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace bastion {

struct RecordingsStoreConfig;

// What S3 says in an error body: its <Code> (at most 64 characters of
// [A-Za-z0-9.]), or "" when the body has none.
std::string s3_error_code(std::string_view body);

// The text of the first <tag>...</tag> in an S3 XML response (at most 1024
// characters, no markup or entity in it), or nullopt.
std::optional<std::string> s3_xml_text(std::string_view body, std::string_view tag);

// Files larger than this are uploaded in parts of this size (S3 multipart:
// no single request carries more, and a failed part is all that is re-sent).
inline constexpr uint64_t kS3PartSize = 8ull << 20;

// The ETag S3 gives a multipart object: MD5 over the parts' raw MD5s, "-N".
std::string s3_multipart_etag(const std::vector<std::string>& part_md5_raw);

// One multipart upload under way: its parts so far (uploaded in order).
struct MultipartUpload {
  struct MdFree {
    void operator()(EVP_MD_CTX* c) const;
  };
  std::string key, upload_id, id_query;  // id_query: URL-escaped
  std::vector<std::string> part_md5s;    // raw MD5 of each part
  uint64_t uploaded = 0;                 // bytes in the parts
  std::unique_ptr<EVP_MD_CTX, MdFree> whole;  // MD5 of those bytes, running
};

class S3Client {
 public:
  // Copies what it needs (the keys too): it outlives config reloads.
  // `cancel`, when given and set, aborts a transfer under way (stopping).
  explicit S3Client(const RecordingsStoreConfig& cfg, const std::atomic<bool>* cancel = nullptr);

  struct Put {
    std::string etag;     // as the store returned it, quotes removed
    std::string md5_hex;  // of the bytes sent (multipart: the ETag S3 computes from the parts' MD5s)
    std::string whole_md5_hex;  // of the whole object (what some S3-compatible servers give as a multipart ETag)
    uint64_t size = 0;
  };
  // Uploads the open regular file `fd` (read with pread from its start) as
  // `key` with Content-MD5 and its SHA-256 as x-amz-content-sha256, so the
  // store refuses a body that changed on the way. Past kS3PartSize: a
  // multipart upload, each part's ETag checked against its MD5, aborted on
  // any failure; Put::md5_hex is then the multipart ETag.
  bool put_fd(const std::string& key, int fd, Put& out, std::string& error) const;
  // Multipart by hand (a recording shipped while it grows): begin, parts
  // of the file in order (each but the last at least 5 MiB, S3's rule),
  // complete; abort on giving up. Each part's ETag is checked as it goes.
  bool begin_multipart(const std::string& key, MultipartUpload& mp, std::string& error) const;
  // The next `len` bytes of `fd`, from mp.uploaded.
  bool upload_part(MultipartUpload& mp, int fd, uint64_t len, std::string& error) const;
  bool complete_multipart(MultipartUpload& mp, Put& out, std::string& error) const;
  void abort_multipart(const MultipartUpload& mp) const;

  // The object's size and ETag (nullopt size: no such object).
  bool head(const std::string& key, std::optional<uint64_t>& size, std::string& etag, std::string& error) const;
  // The object's bytes, in chunks, to `sink`; more than `max_bytes` fails.
  bool get(const std::string& key, uint64_t max_bytes, const std::function<void(std::string_view)>& sink,
           std::string& error) const;

  // The URL of `key` (no credentials in it).
  std::string url(const std::string& key) const;

 private:
  bool put_multipart(const std::string& key, int fd, Put& out, std::string& error) const;

  std::string endpoint_, bucket_, region_;
  HeldSecret userpwd_;  // "ACCESS:SECRET" for CURLOPT_USERPWD
  const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace bastion

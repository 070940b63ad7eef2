// A minimal S3 client for the recordings bucket: PUT of a file, HEAD and a
// streamed GET of one object, path-style (ENDPOINT/BUCKET/KEY), signed by
// libcurl's own AWS Signature V4 (CURLOPT_AWS_SIGV4): no signing code here.
// Every request is bounded in time; the keys never reach a log or an error.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/secret_file.h"

namespace bastion {

struct RecordingsStoreConfig;

// What S3 says in an error body: its <Code> (at most 64 characters of
// [A-Za-z0-9.]), or "" when the body has none.
std::string s3_error_code(std::string_view body);

class S3Client {
 public:
  // Copies what it needs (the keys too): it outlives config reloads.
  explicit S3Client(const RecordingsStoreConfig& cfg);

  struct Put {
    std::string etag;     // as the store returned it, quotes removed
    std::string md5_hex;  // of the bytes sent
    uint64_t size = 0;
  };
  // Uploads the file at `path` as `key` with Content-MD5 and its SHA-256 as
  // x-amz-content-sha256, so the store refuses a body that changed on the way.
  bool put_file(const std::string& key, const std::string& path, Put& out, std::string& error) const;
  // The object's size and ETag (nullopt size: no such object).
  bool head(const std::string& key, std::optional<uint64_t>& size, std::string& etag, std::string& error) const;
  // The object's bytes, in chunks, to `sink`; more than `max_bytes` fails.
  bool get(const std::string& key, uint64_t max_bytes, const std::function<void(std::string_view)>& sink,
           std::string& error) const;

  // The URL of `key` (no credentials in it).
  std::string url(const std::string& key) const;

 private:
  std::string endpoint_, bucket_, region_;
  HeldSecret userpwd_;  // "ACCESS:SECRET" for CURLOPT_USERPWD
};

}  // namespace bastion

#include "recordings/s3_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/base64.h"
#include "common/openssl_handles.h"
#include "config/config.h"

namespace bastion {
namespace {

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlFree>;
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslFree<EVP_MD_CTX, EVP_MD_CTX_free>>;


// An S3 error body is kept only this far (the <Code> is near its start).
constexpr std::size_t kErrorBodyMax = 4096;
constexpr long kConnectTimeoutMs = 5000;
// libcurl 7.88 signs S3 requests without x-amz-content-sha256, which S3
// requires: a bodiless request sends the SHA-256 of nothing.
constexpr const char* kEmptyPayloadHeader =
    "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// A transfer slower than 1 KiB/s for 30 s is abandoned (and retried later).
constexpr long kLowSpeedBytes = 1024, kLowSpeedSeconds = 30;

struct Response {
  std::string error_body;
  std::string etag;
  std::optional<uint64_t> length;
  const std::function<void(std::string_view)>* sink = nullptr;
  uint64_t max_bytes = 0, received = 0;
  bool too_big = false;
};

size_t on_body(char* p, size_t, size_t n, void* ud) {
  auto* r = static_cast<Response*>(ud);
  if (r->sink) {
    if (r->received + n > r->max_bytes) {
      r->too_big = true;
      return 0;  // aborts the transfer
    }
    r->received += n;
    (*r->sink)(std::string_view(p, n));
  } else if (r->error_body.size() < kErrorBodyMax) {
    r->error_body.append(p, std::min(n, kErrorBodyMax - r->error_body.size()));
  }
  return n;
}

size_t on_header(char* p, size_t, size_t n, void* ud) {
  auto* r = static_cast<Response*>(ud);
  std::string_view h(p, n);
  const auto colon = h.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(h.substr(0, colon));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view v = h.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  if (name == "etag") {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    // Compared with what was sent and quoted in logs: hex, "-" and digits only.
    const bool plain = v.size() <= 64 && v.find_first_not_of("0123456789abcdefABCDEF-") == std::string_view::npos;
    r->etag = plain ? std::string(v) : std::string("(not an MD5)");
  } else if (name == "content-length") {
    uint64_t x = 0;
    bool ok = !v.empty() && v.size() <= 19;
    for (char c : v) ok = ok && c >= '0' && c <= '9', x = x * 10 + static_cast<uint64_t>(c - '0');
    if (ok) r->length = x;
  }
  return n;
}

// MD5 and SHA-256 of `len` bytes of `fd` from `off` (pread), in one pass.
// `also`, when given, is fed the same bytes (the whole object's MD5).
bool digest_range(int fd, uint64_t off, uint64_t len, std::string& md5_raw, std::string& sha256_hex, EVP_MD_CTX* also,
                  std::string& error) {
  MdCtxPtr md5(EVP_MD_CTX_new()), sha(EVP_MD_CTX_new());
  if (!md5 || !sha || EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) != 1)
    return error = "cannot hash", false;
  std::string buf(1 << 20, '\0');
  while (len > 0) {
    const ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(len, buf.size()), static_cast<off_t>(off));
    if (n <= 0) return error = n < 0 ? std::string("read: ") + std::strerror(errno) : "file shrank", false;
    EVP_DigestUpdate(md5.get(), buf.data(), static_cast<size_t>(n));
    EVP_DigestUpdate(sha.get(), buf.data(), static_cast<size_t>(n));
    if (also) EVP_DigestUpdate(also, buf.data(), static_cast<size_t>(n));
    off += static_cast<uint64_t>(n);
    len -= static_cast<uint64_t>(n);
  }
  unsigned char m[EVP_MAX_MD_SIZE], s[EVP_MAX_MD_SIZE];
  unsigned ml = 0, sl = 0;
  EVP_DigestFinal_ex(md5.get(), m, &ml);
  EVP_DigestFinal_ex(sha.get(), s, &sl);
  md5_raw.assign(reinterpret_cast<const char*>(m), ml);
  sha256_hex = hex_encode(s, sl);
  return true;
}

// A window of a file sent as a request body.
struct Range {
  int fd = -1;
  uint64_t off = 0, left = 0;
};

size_t on_read_range(char* p, size_t size, size_t n, void* ud) {
  auto* r = static_cast<Range*>(ud);
  const size_t want = static_cast<size_t>(std::min<uint64_t>(size * n, r->left));
  if (want == 0) return 0;
  const ssize_t got = ::pread(r->fd, p, want, static_cast<off_t>(r->off));
  if (got <= 0) return CURL_READFUNC_ABORT;
  r->off += static_cast<uint64_t>(got);
  r->left -= static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

std::string sha256_hex_of(std::string_view data) {
  unsigned char s[EVP_MAX_MD_SIZE];
  unsigned sl = 0;
  EVP_Digest(data.data(), data.size(), s, &sl, EVP_sha256(), nullptr);
  return hex_encode(s, sl);
}

}  // namespace

void MultipartUpload::MdFree::operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }

std::string s3_error_code(std::string_view body) {
  const auto open = body.find("<Code>");
  if (open == std::string_view::npos) return "";
  const std::string_view rest = body.substr(open + 6);
  const auto close = rest.find("</Code>");
  if (close == std::string_view::npos || close > 64) return "";
  const std::string_view code = rest.substr(0, close);
  for (char c : code)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.')) return "";
  return std::string(code);
}

std::optional<std::string> s3_xml_text(std::string_view body, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  const auto a = body.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  const std::string_view rest = body.substr(a + open.size());
  const auto b = rest.find(close);
  if (b == std::string_view::npos || b > 1024) return std::nullopt;
  const std::string_view text = rest.substr(0, b);
  for (char c : text)
    if (c == '<' || c == '&' || static_cast<unsigned char>(c) < 0x20) return std::nullopt;
  return std::string(text);
}

std::string s3_multipart_etag(const std::vector<std::string>& part_md5_raw) {
  MdCtxPtr md5(EVP_MD_CTX_new());
  unsigned char m[EVP_MAX_MD_SIZE];
  unsigned ml = 0;
  if (!md5 || EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) != 1) return "";
  for (const auto& p : part_md5_raw) EVP_DigestUpdate(md5.get(), p.data(), p.size());
  EVP_DigestFinal_ex(md5.get(), m, &ml);
  return hex_encode(m, ml) + "-" + std::to_string(part_md5_raw.size());
}

S3Client::S3Client(const RecordingsStoreConfig& cfg, const std::atomic<bool>* cancel)
    : endpoint_(cfg.endpoint), bucket_(cfg.bucket), region_(cfg.region), cancel_(cancel) {
  userpwd_.bytes = cfg.access_key.bytes + ":" + cfg.secret_key.bytes;
}

std::string S3Client::url(const std::string& key) const { return endpoint_ + "/" + bucket_ + "/" + key; }

namespace {

int on_progress(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(ud);
  return cancel && cancel->load(std::memory_order_relaxed) ? 1 : 0;  // non-zero aborts the transfer
}

// The options every request shares; `resp` receives headers and body.
CurlPtr new_request(const std::string& url, const std::string& region, const HeldSecret& userpwd, Response& resp,
                    std::string& error, const std::atomic<bool>* cancel = nullptr) {
  CurlPtr c(curl_easy_init());
  if (!c) return error = "curl_easy_init failed", nullptr;
  CURL* h = c.get();
  const std::string sigv4 = "aws:amz:" + region + ":s3";
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());  // copied by libcurl
  curl_easy_setopt(h, CURLOPT_USERPWD, userpwd.bytes.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect would re-send signed requests elsewhere
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytes);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, kLowSpeedSeconds);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp);
  if (cancel) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel));
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  return c;
}

bool perform(CURL* h, const Response& resp, long& status, std::string& error) {
  const CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (resp.too_big) return error = "object larger than the read cap", false;
  if (rc != CURLE_OK) return error = curl_easy_strerror(rc), false;
  return true;
}

std::string http_error(long status, const Response& resp) {
  const std::string code = s3_error_code(resp.error_body);
  return "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
}

}  // namespace

bool S3Client::put_fd(const std::string& key, int fd, Put& out, std::string& error) const {
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return error = "not a regular file", false;
  if (static_cast<uint64_t>(st.st_size) > kS3PartSize) return put_multipart(key, fd, out, error);
  std::string md5_raw, sha_hex;
  if (!digest_range(fd, 0, static_cast<uint64_t>(st.st_size), md5_raw, sha_hex, nullptr, error)) return false;
  out.size = static_cast<uint64_t>(st.st_size);
  out.md5_hex = hex_encode(reinterpret_cast<const unsigned char*>(md5_raw.data()), md5_raw.size());
  out.whole_md5_hex = out.md5_hex;
  Response resp;
  CurlPtr c = new_request(url(key), region_, userpwd_, resp, error, cancel_);
  if (!c) return false;
  SlistPtr headers(curl_slist_append(nullptr, ("Content-MD5: " + base64_encode(md5_raw)).c_str()));
  curl_slist_append(headers.get(), ("x-amz-content-sha256: " + sha_hex).c_str());
  curl_slist_append(headers.get(), "Content-Type: application/x-asciicast");
  curl_slist_append(headers.get(), "Expect:");
  Range range{fd, 0, out.size};
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c.get(), CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c.get(), CURLOPT_READFUNCTION, &on_read_range);
  curl_easy_setopt(c.get(), CURLOPT_READDATA, &range);
  curl_easy_setopt(c.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(out.size));
  long status = 0;
  if (!perform(c.get(), resp, status, error)) return false;
  if (status != 200) return error = http_error(status, resp), false;
  out.etag = resp.etag;
  return true;
}

void S3Client::abort_multipart(const MultipartUpload& mp) const {
  // Best effort: parts left behind cost storage only (a lifecycle rule on
  // incomplete uploads removes them); the next attempt starts afresh.
  Response resp;
  std::string ignored;
  if (mp.id_query.empty()) return;
  const std::string u = url(mp.key) + "?uploadId=" + mp.id_query;
  CurlPtr c = new_request(u, region_, userpwd_, resp, ignored);
  if (!c) return;
  SlistPtr headers(curl_slist_append(nullptr, kEmptyPayloadHeader));
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c.get(), CURLOPT_CUSTOMREQUEST, "DELETE");
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS, 5000L);  // also when stopping: never holds up the exit long
  long status = 0;
  perform(c.get(), resp, status, ignored);
}

bool S3Client::begin_multipart(const std::string& key, MultipartUpload& mp, std::string& error) const {
  // The query is written in canonical form (sorted, "name=value"), so what
  // libcurl signs is what S3 recomputes.
  Response resp;
  CurlPtr c = new_request(url(key) + "?uploads=", region_, userpwd_, resp, error, cancel_);
  if (!c) return false;
  SlistPtr headers(curl_slist_append(nullptr, kEmptyPayloadHeader));
  curl_slist_append(headers.get(), "Content-Type: application/x-asciicast");
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c.get(), CURLOPT_POST, 1L);
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, "");
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE, 0L);
  long status = 0;
  if (!perform(c.get(), resp, status, error)) return false;
  if (status != 200) return error = "initiate multipart upload: " + http_error(status, resp), false;
  const auto id = s3_xml_text(resp.error_body, "UploadId");
  if (!id || id->empty()) return error = "initiate multipart upload: no UploadId in the answer", false;
  char* esc = curl_easy_escape(nullptr, id->c_str(), static_cast<int>(id->size()));
  if (!esc) return error = "cannot escape the upload id", false;
  mp = MultipartUpload{};
  mp.key = key;
  mp.upload_id = *id;
  mp.id_query = esc;
  curl_free(esc);
  mp.whole.reset(EVP_MD_CTX_new());
  if (!mp.whole || EVP_DigestInit_ex(mp.whole.get(), EVP_md5(), nullptr) != 1) {
    abort_multipart(mp);
    return error = "cannot hash", false;
  }
  return true;
}

bool S3Client::upload_part(MultipartUpload& mp, int fd, uint64_t len, std::string& error) const {
  const int number = static_cast<int>(mp.part_md5s.size()) + 1;
  std::string md5_raw, sha_hex;
  // Hashed into a copy of the whole-object MD5: a failed part leaves it as it was.
  std::unique_ptr<EVP_MD_CTX, MultipartUpload::MdFree> whole(EVP_MD_CTX_new());
  if (!whole || EVP_MD_CTX_copy_ex(whole.get(), mp.whole.get()) != 1) return error = "cannot hash", false;
  if (!digest_range(fd, mp.uploaded, len, md5_raw, sha_hex, whole.get(), error)) return false;
  Response resp;
  CurlPtr c = new_request(url(mp.key) + "?partNumber=" + std::to_string(number) + "&uploadId=" + mp.id_query, region_,
                          userpwd_, resp, error, cancel_);
  if (!c) return false;
  SlistPtr headers(curl_slist_append(nullptr, ("Content-MD5: " + base64_encode(md5_raw)).c_str()));
  curl_slist_append(headers.get(), ("x-amz-content-sha256: " + sha_hex).c_str());
  curl_slist_append(headers.get(), "Expect:");
  Range range{fd, mp.uploaded, len};
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c.get(), CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c.get(), CURLOPT_READFUNCTION, &on_read_range);
  curl_easy_setopt(c.get(), CURLOPT_READDATA, &range);
  curl_easy_setopt(c.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(len));
  long status = 0;
  const std::string md5_hex = hex_encode(reinterpret_cast<const unsigned char*>(md5_raw.data()), md5_raw.size());
  if (!perform(c.get(), resp, status, error)) return false;
  if (status != 200) return error = "part " + std::to_string(number) + ": " + http_error(status, resp), false;
  if (resp.etag != md5_hex) return error = "part " + std::to_string(number) + ": the store's ETag is not its MD5", false;
  mp.part_md5s.push_back(md5_raw);
  mp.uploaded += len;
  mp.whole = std::move(whole);
  return true;
}

bool S3Client::complete_multipart(MultipartUpload& mp, Put& out, std::string& error) const {
  std::string parts_xml;
  for (std::size_t i = 0; i < mp.part_md5s.size(); ++i)
    parts_xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>\"" +
                 hex_encode(reinterpret_cast<const unsigned char*>(mp.part_md5s[i].data()), mp.part_md5s[i].size()) +
                 "\"</ETag></Part>";
  const std::string body = "<CompleteMultipartUpload>" + parts_xml + "</CompleteMultipartUpload>";
  Response resp;
  CurlPtr c = new_request(url(mp.key) + "?uploadId=" + mp.id_query, region_, userpwd_, resp, error, cancel_);
  if (!c) return false;
  SlistPtr headers(curl_slist_append(nullptr, ("x-amz-content-sha256: " + sha256_hex_of(body)).c_str()));
  curl_slist_append(headers.get(), "Content-Type: application/xml");
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  long status = 0;
  if (!perform(c.get(), resp, status, error)) return false;
  // S3 may answer 200 and still fail the completion, with an <Error> body.
  if (status != 200 || !s3_error_code(resp.error_body).empty())
    return error = "complete multipart upload: " + http_error(status, resp), false;
  std::string result = resp.error_body;
  for (std::size_t q; (q = result.find("&quot;")) != std::string::npos;) result.replace(q, 6, "\"");
  // The result's ETag is quoted, as XML text ("&quot;" or a plain quote).
  std::string e = s3_xml_text(result, "ETag").value_or(resp.etag);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  out.etag = e;
  out.size = mp.uploaded;
  out.md5_hex = s3_multipart_etag(mp.part_md5s);
  unsigned char m[EVP_MAX_MD_SIZE];
  unsigned ml = 0;
  EVP_DigestFinal_ex(mp.whole.get(), m, &ml);
  out.whole_md5_hex = hex_encode(m, ml);
  return true;
}

bool S3Client::put_multipart(const std::string& key, int fd, Put& out, std::string& error) const {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return error = std::string("stat: ") + std::strerror(errno), false;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  MultipartUpload mp;
  if (!begin_multipart(key, mp, error)) return false;
  while (mp.uploaded < size)
    if (!upload_part(mp, fd, std::min(kS3PartSize, size - mp.uploaded), error)) return abort_multipart(mp), false;
  if (!complete_multipart(mp, out, error)) return abort_multipart(mp), false;
  return true;
}

bool S3Client::head(const std::string& key, std::optional<uint64_t>& size, std::string& etag,
                    std::string& error) const {
  Response resp;
  CurlPtr c = new_request(url(key), region_, userpwd_, resp, error, cancel_);
  if (!c) return false;
  SlistPtr headers(curl_slist_append(nullptr, kEmptyPayloadHeader));
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c.get(), CURLOPT_NOBODY, 1L);
  long status = 0;
  if (!perform(c.get(), resp, status, error)) return false;
  size.reset();
  if (status == 404) return true;
  if (status != 200 || !resp.length) return error = http_error(status, resp), false;
  size = resp.length;
  etag = resp.etag;
  return true;
}

bool S3Client::get(const std::string& key, uint64_t max_bytes, const std::function<void(std::string_view)>& sink,
                   std::string& error) const {
  // The body goes to `sink` only once the status says it is the object.
  std::string held;
  Response resp;
  CurlPtr c = new_request(url(key), region_, userpwd_, resp, error, cancel_);
  if (!c) return false;
  SlistPtr headers(curl_slist_append(nullptr, kEmptyPayloadHeader));
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  std::function<void(std::string_view)> gate = [&](std::string_view d) {
    long status = 0;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status == 200) sink(d);
    else if (held.size() < kErrorBodyMax) held.append(d.substr(0, kErrorBodyMax - held.size()));
  };
  resp.sink = &gate;
  resp.max_bytes = max_bytes;
  long status = 0;
  if (!perform(c.get(), resp, status, error)) return false;
  if (status != 200) {
    resp.error_body = held;
    return error = (status == 404 ? std::string("no such object in the bucket: ") + key : http_error(status, resp)),
           false;
  }
  return true;
}

}  // namespace bastion

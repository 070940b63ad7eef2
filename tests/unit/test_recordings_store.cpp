// Recordings off the host: object keys, the retry schedule, S3 error
// bodies, the recordings_store config, and the location state machine in
// the SQLite store (what the shipper lists, what it may record).
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/stat.h>

#include "audit/sqlite_audit_store.h"
#include "config/config.h"
#include "recordings/object_key.h"
#include "recordings/s3_client.h"
#include "recordings/upload_backoff.h"
#include "targets/target_kind.h"
#include "test_util.h"

using namespace bastion;

namespace {

void sql(const std::string& db, const std::string& q) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  char* msg = nullptr;
  const int rc = sqlite3_exec(h, q.c_str(), nullptr, nullptr, &msg);
  INFO((msg ? msg : ""));
  sqlite3_free(msg);
  sqlite3_close(h);
  REQUIRE(rc == SQLITE_OK);
}

std::vector<int64_t> ids(const std::vector<RecordingShipment>& v) {
  std::vector<int64_t> out;
  for (const auto& r : v) out.push_back(r.id);
  return out;
}

}  // namespace

TEST_CASE("a recording's object key is the prefix and its path under recordings_dir", "[recordings_store]") {
  const std::string dir = "/var/lib/bastion/recordings";
  const std::string path = dir + "/2026-11-30/20261130T101010-abcd-3.cast";
  CHECK(recording_object_key("", dir, "20261130T101010-abcd", path) == "2026-11-30/20261130T101010-abcd-3.cast");
  CHECK(recording_object_key("site-a/x_1/", dir + "/", "20261130T101010-abcd", path) ==
        "site-a/x_1/2026-11-30/20261130T101010-abcd-3.cast");
  // Only names bastiond writes: another session's file, a path outside, a bad prefix.
  CHECK_FALSE(recording_object_key("", dir, "20261130T101010-other", path));
  CHECK_FALSE(recording_object_key("", dir, "20261130T101010-abcd", "/etc/2026-11-30/20261130T101010-abcd-3.cast"));
  CHECK_FALSE(recording_object_key("", dir, "20261130T101010-abcd", dir + "/2026-11-30/../20261130T101010-abcd-3.cast"));
  CHECK_FALSE(recording_object_key("../", dir, "20261130T101010-abcd", path));
}

TEST_CASE("recordings_store prefix, bucket and endpoint are checked", "[recordings_store]") {
  CHECK_FALSE(s3_prefix_problem(""));
  CHECK_FALSE(s3_prefix_problem("a/b.c/d-e_f/"));
  CHECK(s3_prefix_problem("a") == "must end with \"/\"");
  CHECK(s3_prefix_problem("/a/") == "empty path segment (\"//\" or a leading \"/\")");
  CHECK(s3_prefix_problem("a//") == "empty path segment (\"//\" or a leading \"/\")");
  CHECK(s3_prefix_problem("a/../") == "\".\" and \"..\" segments are not allowed");
  CHECK(s3_prefix_problem("a b/") == "only letters, digits, \".\", \"_\", \"-\" and \"/\" are allowed");
  CHECK(s3_prefix_problem("a?x=1/") == "only letters, digits, \".\", \"_\", \"-\" and \"/\" are allowed");
  CHECK_FALSE(s3_bucket_problem("recordings"));
  CHECK_FALSE(s3_bucket_problem("my.bucket-1"));
  CHECK(s3_bucket_problem("ab") == "expected 3 to 63 characters");
  CHECK(s3_bucket_problem("Upper") == "only lowercase letters, digits, \".\" and \"-\" are allowed");
  CHECK(s3_bucket_problem("-abc") == "must start and end with a letter or digit");
  CHECK_FALSE(s3_endpoint_problem("http://127.0.0.1:9000"));
  CHECK_FALSE(s3_endpoint_problem("https://s3.eu-west-1.amazonaws.com/"));
  CHECK(s3_endpoint_problem("ftp://x") == "expected \"http://HOST[:PORT]\" or \"https://HOST[:PORT]\"");
  CHECK(s3_endpoint_problem("http://user@host") == "expected only a host and a port (no path, user or query)");
  CHECK(s3_endpoint_problem("http://host/path") == "expected only a host and a port (no path, user or query)");
  CHECK(s3_endpoint_problem("https://") == "no host");
}

TEST_CASE("failed uploads are retried 1, 2, 4, 8 s apart, then every 15 s, forever", "[recordings_store]") {
  std::vector<int64_t> got;
  for (int f = 1; f <= 8; ++f) got.push_back(upload_retry_delay(f));
  CHECK(got == std::vector<int64_t>{1, 2, 4, 8, 15, 15, 15, 15});
  CHECK(upload_retry_delay(0) == 1);
  CHECK(upload_retry_delay(1000000) == kUploadBackoffMaxSeconds);
}

TEST_CASE("an S3 error body gives its Code, bounded and plain", "[recordings_store]") {
  CHECK(s3_error_code("<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>x</Message></Error>") ==
        "NoSuchBucket");
  CHECK(s3_error_code("<Error><Message>x</Message></Error>").empty());
  CHECK(s3_error_code("<Code>unterminated").empty());
  CHECK(s3_error_code("<Code>" + std::string(65, 'A') + "</Code>").empty());
  CHECK(s3_error_code("<Code>Bad\x1b[2J</Code>").empty());  // never echoes control bytes into a log
  CHECK(s3_error_code("").empty());
}

TEST_CASE("S3 XML answers: an element's plain text, bounded", "[recordings_store]") {
  const std::string init = "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                           "<UploadId>VXBsb2FkIElE-1.x_y</UploadId></InitiateMultipartUploadResult>";
  CHECK(s3_xml_text(init, "UploadId") == "VXBsb2FkIElE-1.x_y");
  CHECK(s3_xml_text(init, "Bucket") == "b");
  CHECK_FALSE(s3_xml_text(init, "ETag"));
  CHECK_FALSE(s3_xml_text("<UploadId>a<b>c</b></UploadId>", "UploadId"));  // markup inside: refused
  CHECK_FALSE(s3_xml_text("<UploadId>a&amp;b</UploadId>", "UploadId"));
  CHECK_FALSE(s3_xml_text("<UploadId>" + std::string(1025, 'a') + "</UploadId>", "UploadId"));
  CHECK(s3_xml_text("<UploadId></UploadId>", "UploadId") == "");
  CHECK_FALSE(s3_xml_text("<UploadId>open", "UploadId"));
}

TEST_CASE("a multipart object's ETag: MD5 of the parts' MD5s, and their count", "[recordings_store]") {
  // MD5("a") and MD5("b") raw, as S3 combines them.
  const auto raw = [](const char* hex) {
    std::string out;
    for (int i = 0; i < 32; i += 2) out += static_cast<char>(std::stoi(std::string(hex + i, 2), nullptr, 16));
    return out;
  };
  const std::string a = raw("0cc175b9c0f1b6a831c399e269772661"), b = raw("92eb5ffee6ae2fec3ad71c777531578f");
  // hashlib.md5(md5(b"a").digest() + md5(b"b").digest())
  CHECK(s3_multipart_etag({a, b}) == "96e024ba2074fe77e8e965ba43a704be-2");
  CHECK(s3_multipart_etag({a}).ends_with("-1"));
  CHECK(s3_multipart_etag({a, b}) != s3_multipart_etag({b, a}));
}

TEST_CASE("recordings_store in the config: checked whole, keys held, never echoed", "[recordings_store][config]") {
  testutil::TempDir d;
  testutil::keygen(d, "host_key");
  testutil::keygen(d, "ca");
  testutil::keygen(d, "web1_key");
  testutil::spit(d / "known_hosts", "[h]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBVQ9mTFm2rMXDYLgXUD7xU6U5bMTi9LWRJ0Cq7CVVmr\n");
  testutil::spit(d / "ak", "AKIDEXAMPLE\n");
  testutil::spit(d / "sk", "very-secret-key\n");
  chmod((d / "ak").c_str(), 0600);
  chmod((d / "sk").c_str(), 0600);
  const auto conf = [&](const std::string& store) {
    testutil::spit(d / "bastion.conf", "host_keys = { \"host_key\" }\nuser_ca_keys = \"ca.pub\"\n" + store +
                                           "\ntargets = { web1 = { type = \"ssh\", host = \"h\", user = \"u\", identity = \"web1_key\", "
                                           "known_hosts = \"known_hosts\", allow = { \"ops\" } } }\n");
    return d / "bastion.conf";
  };
  const TargetKinds kinds = builtin_target_kinds();
  std::string err;
  const std::string good = "recordings_store = { type = \"s3\", endpoint = \"http://127.0.0.1:9000/\", "
                           "bucket = \"recs\", access_key_file = \"ak\", secret_key_file = \"sk\", prefix = \"a/\" }";
  auto cfg = load_config(conf(good), err, kinds, true);
  INFO(err);
  REQUIRE(cfg);
  const auto& s = cfg->recordings_store;
  CHECK(s.enabled());
  CHECK(s.endpoint == "http://127.0.0.1:9000");
  CHECK(s.region == "us-east-1");
  CHECK(s.access_key.bytes == "AKIDEXAMPLE");
  CHECK(s.secret_key.bytes == "very-secret-key");
  CHECK(s.secret_key_file == d / "sk");
  // Not set: local only.
  cfg = load_config(conf(""), err, kinds, true);
  REQUIRE(cfg);
  CHECK_FALSE(cfg->recordings_store.enabled());

  const auto refused = [&](const std::string& store) {
    std::string e;
    CHECK(load_config(conf(store), e, kinds, true) == nullptr);
    CHECK(e.find("very-secret") == std::string::npos);
    return e.substr(e.find(": ") + 2);
  };
  CHECK(refused("recordings_store = { type = \"gcs\" }") == "recordings_store.type: expected \"s3\"");
  CHECK(refused("recordings_store = { type = \"s3\", endpoint = \"http://h\", bucket = \"recs\", "
                "access_key_file = \"ak\", secret_key_file = \"sk\", buckett = \"x\" }")
            .starts_with("recordings_store.buckett: unknown key"));
  CHECK(refused("recordings_store = { type = \"s3\", endpoint = \"http://h\", bucket = \"recs\", "
                "access_key_file = \"ak\" }") == "recordings_store.secret_key_file: required");
  CHECK(refused("recordings_store = { type = \"s3\", endpoint = \"http://h\", bucket = \"recs\", prefix = \"../\", "
                "access_key_file = \"ak\", secret_key_file = \"sk\" }") ==
        "recordings_store.prefix: \".\" and \"..\" segments are not allowed");
  chmod((d / "sk").c_str(), 0640);
  CHECK(refused(good) == "recordings_store.secret_key_file: " + (d / "sk") +
                             ": mode 0640 is readable by group or others (chmod 600)");
  // bastionctl loads without files: the keys are read when a recording is fetched.
  cfg = load_config(conf(good), err, kinds, false);
  REQUIRE(cfg);
  CHECK(cfg->recordings_store.secret_key.empty());
  CHECK(refused("recordings_store = \"s3\"") == "recordings_store: expected a table");
}

TEST_CASE("recording locations: local, uploading, stored; the shipper's list", "[recordings_store][audit]") {
  testutil::TempDir d;
  std::string err;
  auto s = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(s);
  const auto open_rec = [&](const std::string& sid) {
    int64_t id = 0;
    REQUIRE(s->recording_opened({.session_id = sid, .channel = 0, .path = "p-" + sid, .opened_at = "t", .start = {}},
                                id, err));
    return id;
  };
  const auto close_rec = [&](int64_t id) {
    REQUIRE(s->recording_closed(id, 0, {.events = 1, .bytes = 2, .digest = "d", .tail = "", .signature = "", .at = "t"},
                                err));
  };
  const int64_t a = open_rec("A"), b = open_rec("B"), c = open_rec("C");
  int64_t upto = -1;
  // Nothing closed yet: nothing to ship, and the scan may not pass `a`.
  CHECK(s->recordings_to_ship(0, 10, upto, err).empty());
  CHECK(err.empty());
  CHECK(upto == a - 1);
  close_rec(b);
  auto list = s->recordings_to_ship(0, 10, upto, err);
  CHECK(ids(list) == std::vector<int64_t>{b});
  CHECK(list[0].location == "local");
  CHECK(upto == a - 1);
  close_rec(a);
  CHECK(ids(s->recordings_to_ship(0, 10, upto, err)) == std::vector<int64_t>{a, b});
  CHECK(upto == c - 1);
  CHECK(ids(s->recordings_to_ship(0, 1, upto, err)) == std::vector<int64_t>{a});  // bounded
  REQUIRE(s->recording_location(a, "uploading", "k/a", err));
  list = s->recordings_to_ship(0, 10, upto, err);
  CHECK(ids(list) == std::vector<int64_t>{a, b});
  CHECK((list[0].location == "uploading" && list[0].object_key == "k/a"));
  REQUIRE(s->recording_location(a, "stored", "k/a", err));
  CHECK(ids(s->recordings_to_ship(0, 10, upto, err)) == std::vector<int64_t>{b});
  CHECK(ids(s->recordings_to_ship(b, 10, upto, err)).empty());
  // Interrupted recordings (a previous process died) are shipped too.
  CHECK(s->mark_interrupted("t2", err) == 1);
  CHECK(ids(s->recordings_to_ship(0, 10, upto, err)) == std::vector<int64_t>{b, c});
  CHECK(upto == c);
  // A location edited with SQL is never adopted.
  sql(d / "audit.db", "UPDATE recording_locations SET object_key='elsewhere' WHERE recording_id=" + std::to_string(a));
  CHECK_FALSE(s->recording_location(a, "stored", "k/a", err));
  CHECK(err == "audit row changed outside bastiond: recording_locations " + std::to_string(a));
}

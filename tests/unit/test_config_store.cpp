// store and store_password_file: a PostgreSQL URI without a password, or
// nothing (SQLite in data_dir); exact errors for anything else.
#include <filesystem>

#include <catch2/catch.hpp>

#include "config/config.h"
#include "config/store_uri.h"
#include "targets/target_kind.h"
#include "test_util.h"

using namespace bastion;

namespace {

std::shared_ptr<const Config> load(testutil::TempDir& d, const std::string& extra, std::string& err) {
  if (!std::filesystem::exists(d / "host_key"))
    for (const char* k : {"host_key", "ca", "web1_key"}) testutil::keygen(d, k);
  testutil::spit(d / "known_hosts", "[127.0.0.1]:2201 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBVQ9mTFm2rMXDYLgXUD7xU6U5bMTi9LWRJ0Cq7CVVmr\n");
  testutil::spit(d / "bastion.conf", "host_keys = { \"host_key\" }\nuser_ca_keys = \"ca.pub\"\ndata_dir = \"var\"\n" + extra +
                                          "\ntargets = { web1 = { type = \"ssh\", host = \"10.0.0.5\", user = \"u\", "
                                          "identity = \"web1_key\", known_hosts = \"known_hosts\", allow = { \"ops\" } } }\n");
  static const TargetKinds kinds = builtin_target_kinds();
  return load_config(d / "bastion.conf", err, kinds);
}

}  // namespace

TEST_CASE("store: a PostgreSQL URI names the shared store; none keeps SQLite in data_dir", "[config]") {
  testutil::TempDir d;
  const std::string f = d / "bastion.conf";
  std::string err;
  auto c = load(d, "", err);
  REQUIRE(c);
  CHECK(c->audit_store() == (d / "var") + "/audit.db");
  c = load(d, "store = \"postgresql://bastion@db.example:5432/bastion\"\nstore_password_file = \"pg.pw\"", err);
  REQUIRE(c);
  CHECK(c->audit_store() == "postgresql://bastion@db.example:5432/bastion");
  CHECK(c->store_password_file == d / "pg.pw");

  const std::string no_pw = "no password in the URI: put it in store_password_file (mode 0600) or libpq's passfile";
  CHECK_FALSE(load(d, "store = \"postgresql://bastion:s3cret@db/bastion\"", err));
  CHECK(err == f + ":4: store: " + no_pw);
  CHECK(err.find("s3cret") == std::string::npos);
  CHECK_FALSE(load(d, "store = \"postgres://db/bastion?sslmode=require&PASSWORD=x\"", err));
  CHECK(err == f + ":4: store: " + no_pw);
  CHECK_FALSE(load(d, "store = \"mysql://db/bastion\"", err));
  CHECK(err == f + ":4: store: expected \"postgresql://user@host:port/database\"");
  CHECK_FALSE(load(d, "store = \"/var/lib/bastion/audit.db\"", err));
  CHECK(err == f + ":4: store: expected \"postgresql://user@host:port/database\"");
  CHECK_FALSE(load(d, "store = \"postgresql://bastion@db\"", err));
  CHECK(err == f + ":4: store: name the database: postgresql://user@host:port/database");
  CHECK(c->heartbeat_interval == 5);
  c = load(d, "store = \"postgresql://db/bastion\"\nheartbeat_interval = \"2s\"", err);
  REQUIRE(c);
  CHECK(c->heartbeat_interval == 2);
  CHECK_FALSE(load(d, "heartbeat_interval = 2", err));
  CHECK(err == f + ":4: heartbeat_interval: goes with store = \"postgresql://...\"");
  CHECK_FALSE(load(d, "store_password_file = \"pg.pw\"", err));
  CHECK(err == f + ":4: store_password_file: goes with store = \"postgresql://...\"");
}

TEST_CASE("valid_store_uri", "[config]") {
  std::string why;
  CHECK(valid_store_uri("postgresql://db/bastion", why));
  CHECK(valid_store_uri("postgresql://u@127.0.0.1:5433/bastion?sslmode=verify-full", why));
  CHECK(valid_store_uri("postgres://u@[::1]:5432/b", why));
  CHECK_FALSE(valid_store_uri("postgresql://u@db/b c", why));
  CHECK(why == "a URI has no spaces or control characters");
  CHECK_FALSE(valid_store_uri("postgresql:///bastion", why));
  CHECK(why == "name the host: postgresql://user@host:port/database");
}

// auth_failure_detail and renew_hint: defaults, accepted values, and exact
// errors for anything else.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "targets/target_kind.h"
#include "test_util.h"

using namespace bastion;

namespace {

void make_keys(testutil::TempDir& d) {
  testutil::keygen(d, "host_key");
  testutil::keygen(d, "ca");
  testutil::keygen(d, "web1_key");
  testutil::spit(d / "known_hosts", "[127.0.0.1]:2201 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBVQ9mTFm2rMXDYLgXUD7xU6U5bMTi9LWRJ0Cq7CVVmr\n");
}

std::shared_ptr<const Config> load(testutil::TempDir& d, const std::string& extra, std::string& err) {
  testutil::spit(d / "bastion.conf", "host_keys = { \"host_key\" }\nuser_ca_keys = \"ca.pub\"\ndata_dir = \"var\"\n" + extra +
                                          "\ntargets = { web1 = { type = \"ssh\", host = \"10.0.0.5\", user = \"u\", "
                                          "identity = \"web1_key\", known_hosts = \"known_hosts\", allow = { \"ops\" } } }\n");
  static const TargetKinds kinds = builtin_target_kinds();
  return load_config(d / "bastion.conf", err, kinds);
}

}  // namespace

TEST_CASE("auth_failure_detail and renew_hint", "[config]") {
  testutil::TempDir d;
  make_keys(d);
  const std::string f = d / "bastion.conf";
  std::string err;
  auto c = load(d, "", err);
  REQUIRE(c);
  CHECK(c->auth_failure_detail);
  CHECK(c->renew_hint.empty());

  c = load(d, "auth_failure_detail = \"none\"\nrenew_hint = \"run get-cert\"", err);
  REQUIRE(c);
  CHECK_FALSE(c->auth_failure_detail);
  CHECK(c->renew_hint == "run get-cert");

  CHECK_FALSE(load(d, "auth_failure_detail = \"full\"", err));
  CHECK(err == f + ":4: auth_failure_detail: expected \"reason\" or \"none\"");
  CHECK_FALSE(load(d, "renew_hint = \"two\\nlines\"", err));
  CHECK(err == f + ":4: renew_hint: expected one line of at most 200 characters");
  CHECK_FALSE(load(d, "renew_hint = \"" + std::string(201, 'x') + "\"", err));
  CHECK(err == f + ":4: renew_hint: expected one line of at most 200 characters");
}

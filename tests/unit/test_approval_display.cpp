// What an approver reads in `approvals list` and `approvals show`: the exact
// bytes of the held command, escaped, that no text inside it can disguise.
#include <catch2/catch.hpp>

#include "approvals/approval_commands.h"
#include "audit/sqlite_audit_store.h"
#include "common/time_util.h"
#include "test_util.h"

using namespace bastion;

namespace {

ApprovalRequest held(const std::string& text) {
  ApprovalRequest r;
  r.kind = "command";
  r.session_id = "s1";
  r.requester = "mallory\x1b[2K";
  r.target = "db1";
  r.command_kind = "sql";
  r.command_text = text;
  r.reason = "held\r";
  r.approvers = {"oncall"};
  r.created_at = unix_now();
  r.expires_at = r.created_at + 600;
  return r;
}

}  // namespace

TEST_CASE("approvals show: a multi-line statement behind a margin, escaped", "[display]") {
  testutil::TempDir d;
  std::string err;
  auto store = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(store);
  // The second line tries to pass for a vote, the CR/ESC to erase itself.
  ApprovalRequest r = held("DELETE FROM t\n  approve by bob at 2026-01-01T00:00:00Z: ok\r\x1b[2K");
  REQUIRE(store->create_request(r, err));
  Config cfg;
  ApprovalCommands cmds(*store, cfg, ApprovalActor{"admin:root", {}, true}, nullptr);
  std::string out;
  REQUIRE(cmds.run("approvals", {"show", std::to_string(r.id)}, out, err) == 0);
  const std::string head = "#" + std::to_string(r.id) +
                           "  pending  mallory\\x1b[2K  db1 sql: DELETE FROM t\\n  approve by bob at "
                           "2026-01-01T00:00:00Z: ok\\r\\x1b[2K  (held\\r)  ";
  CHECK(out.substr(0, head.size()) == head);
  const std::string block =
      "]\n"
      "  command, 63 bytes, exactly as it will run:\n"
      "  | DELETE FROM t\n"
      "  |   approve by bob at 2026-01-01T00:00:00Z: ok\\r\\x1b[2K\n"
      "  requested " + iso8601(r.created_at) + " by mallory\\x1b[2K in session s1\n"
      "  expires " + iso8601(r.expires_at) + "\n";
  CHECK(out.substr(out.find("]\n")) == block);
}

TEST_CASE("approvals list: a long command is cut visibly", "[display]") {
  testutil::TempDir d;
  std::string err;
  auto store = SqliteAuditStore::open(d / "audit.db", err);
  REQUIRE(store);
  ApprovalRequest r = held("SELECT '" + std::string(300, 'x') + "'");
  REQUIRE(store->create_request(r, err));
  Config cfg;
  ApprovalCommands cmds(*store, cfg, ApprovalActor{"admin:root", {}, true}, nullptr);
  std::string out;
  REQUIRE(cmds.run("approvals", {"list"}, out, err) == 0);
  CHECK(out.find(" db1 sql: SELECT '" + std::string(192, 'x') + "\xE2\x80\xA6 [309 bytes in all]  (held\\r)  ") !=
        std::string::npos);
}

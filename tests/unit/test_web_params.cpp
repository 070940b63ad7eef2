// The web API's query parameters, parsed strictly; what the recording and
// asset routes accept as names.
#include <catch2/catch.hpp>

#include "web/api_params.h"
#include "audit/recording_file.h"
#include "web/static_assets.h"

using namespace bastion;

namespace {
constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z

std::string why_of(ApiList l, const QueryParams& p) {
  std::string why;
  CHECK_FALSE(parse_api_filter(l, p, kNow, why));
  return why;
}
}  // namespace

TEST_CASE("command filters: every parameter") {
  std::string why;
  const auto f = parse_api_filter(ApiList::commands,
                                  {{"since", "10m"}, {"until", "2027-01-15T08:00:00Z"}, {"identity", "alice"},
                                   {"target", "web1"}, {"decision", "deny"}, {"kind", "kube_request"},
                                   {"grep", "rm -rf"}, {"session", "20261130T100031-c273c9dc4a720eab"}, {"limit", "7"}},
                                  kNow, why);
  REQUIRE(f);
  CHECK(f->since == kNow - 600);
  CHECK(f->until == kNow);
  CHECK(f->identity == "alice");
  CHECK(f->target == "web1");
  CHECK(f->decision == "deny");
  CHECK(f->kind == "kube_request");
  CHECK(f->grep == "rm -rf");
  CHECK(f->session == "20261130T100031-c273c9dc4a720eab");
  CHECK(f->limit == 7);
  const auto none = parse_api_filter(ApiList::sessions, {}, kNow, why);
  REQUIRE(none);
  CHECK(none->limit == AuditFilter{}.limit);
  CHECK_FALSE(none->since);
}

TEST_CASE("bad filter parameters are refused with the reason") {
  CHECK(why_of(ApiList::sessions, {{"grep", "x"}}) == "unknown parameter \"grep\"");
  CHECK(why_of(ApiList::sessions, {{"kind", "exec"}}) == "unknown parameter \"kind\"");
  CHECK(why_of(ApiList::commands, {{"bogus\x1b", "x"}}) == "unknown parameter \"?\"");
  CHECK(why_of(ApiList::commands, {{"limit", "5"}, {"limit", "6"}}) == "limit: given more than once");
  CHECK(why_of(ApiList::commands, {{"limit", "0"}}) == "limit: out of range (1..1000)");
  CHECK(why_of(ApiList::commands, {{"limit", "1001"}}) == "limit: out of range (1..1000)");
  CHECK(why_of(ApiList::commands, {{"limit", "-1"}}) == "limit: not a number");
  CHECK(why_of(ApiList::commands, {{"limit", " 5"}}) == "limit: not a number");
  CHECK(why_of(ApiList::commands, {{"decision", "Allow"}}) == "decision: expected allow, mask, review or deny");
  CHECK(why_of(ApiList::commands, {{"kind", "exec;"}}) == "kind: expected a command kind (e.g. exec, shell, sql)");
  CHECK(why_of(ApiList::commands, {{"session", "../x"}}) == "session: not a session id");
  CHECK(why_of(ApiList::commands, {{"identity", ""}}) ==
        "identity: expected 1 to 256 characters without control characters");
  CHECK(why_of(ApiList::commands, {{"grep", "a\nb"}}) ==
        "grep: expected 1 to 256 characters without control characters");
  CHECK(why_of(ApiList::commands, {{"target", std::string(257, 'a')}}) ==
        "target: expected 1 to 256 characters without control characters");
  CHECK(why_of(ApiList::commands, {{"since", "1h"}, {"until", "2h"}}) == "since is after until");
  CHECK(why_of(ApiList::commands, {{"since", "yesterday"}}).starts_with("since: "));
}

TEST_CASE("recording query and index") {
  std::string why;
  CHECK(parse_recording_query({}, why) == 0u);
  CHECK(parse_recording_query({{"offset", "123"}}, why) == 123u);
  CHECK_FALSE(parse_recording_query({{"offset", "-1"}}, why));
  CHECK(why == "offset: not a number");
  CHECK_FALSE(parse_recording_query({{"offset", "1"}, {"offset", "2"}}, why));
  CHECK(why == "offset: given more than once");
  CHECK_FALSE(parse_recording_query({{"path", "/etc/passwd"}}, why));
  CHECK(why == "unknown parameter \"path\"");
  CHECK(parse_recording_index("0") == 0u);
  CHECK(parse_recording_index("9999") == 9999u);
  CHECK_FALSE(parse_recording_index("10000"));
  CHECK_FALSE(parse_recording_index("../0"));
  CHECK_FALSE(parse_recording_index(""));
}

TEST_CASE("session ids as the bastion makes them, nothing else") {
  CHECK(valid_session_id("20261130T100031-c273c9dc4a720eab"));
  CHECK_FALSE(valid_session_id("20261130T100031-C273C9DC4A720EAB"));
  CHECK_FALSE(valid_session_id("20261130T100031-c273c9dc4a720ea"));
  CHECK_FALSE(valid_session_id("20261130X100031-c273c9dc4a720eab"));
  CHECK_FALSE(valid_session_id("../../../../../../etc/passwd00000"));
}

TEST_CASE("a recording path must be this session's file under recordings_dir") {
  const std::string dir = "/var/lib/bastion/recordings";
  const std::string id = "20261130T100031-c273c9dc4a720eab";
  CHECK(recording_relative_path(dir, id, dir + "/2026-11-30/" + id + "-0.cast") == "2026-11-30/" + id + "-0.cast");
  CHECK(recording_relative_path(dir + "/", id, dir + "/2026-11-30/" + id + "-12.cast"));
  CHECK_FALSE(recording_relative_path(dir, id, "/etc/passwd"));
  CHECK_FALSE(recording_relative_path(dir, id, dir + "/2026-11-30/20261130T100031-0000000000000000-0.cast"));
  CHECK_FALSE(recording_relative_path(dir, id, dir + "/../2026-11-30/" + id + "-0.cast"));
  CHECK_FALSE(recording_relative_path(dir, id, dir + "/2026-11-30/../" + id + "-0.cast"));
  CHECK_FALSE(recording_relative_path(dir, id, dir + "/2026-11-30/" + id + "-0.cast/x"));
  CHECK_FALSE(recording_relative_path(dir, id, dir + "/2026-11-30/" + id + "-.cast"));
  CHECK_FALSE(recording_relative_path(dir, id, dir + "/2026-11-30/" + id + "-0/.cast"));
  CHECK_FALSE(recording_relative_path(dir, id, dir + "x/2026-11-30/" + id + "-0.cast"));
  CHECK_FALSE(recording_relative_path(dir, "", dir + "/2026-11-30/-0.cast"));
}

TEST_CASE("asset names: a strict name and a known type") {
  CHECK(valid_asset_name("asciinema-player.min.js"));
  CHECK(std::string(asset_content_type("app.js")) == "text/javascript; charset=utf-8");
  CHECK(std::string(asset_content_type("asciinema-player.css")) == "text/css; charset=utf-8");
  CHECK(std::string(asset_content_type("index.html")) == "text/html; charset=utf-8");
  CHECK_FALSE(asset_content_type("run.sh"));
  CHECK_FALSE(asset_content_type(".js"));
  for (const char* bad : {"..", ".", "../x.js", "a/b.js", ".hidden.js", "a b.js", "a%2e.js", ""})
    CHECK_FALSE(valid_asset_name(bad));
  CHECK_FALSE(read_asset("/etc", "passwd"));
}

#include <catch2/catch.hpp>

#include <limits>
#include <thread>
#include <vector>

#include "metrics/auth_failure_reason.h"
#include "metrics/live_sessions.h"
#include "metrics/metrics_registry.h"
#include "metrics/prometheus_text.h"

using namespace bastion;

TEST_CASE("prometheus text: label values escape backslash, quote and newline only", "[metrics]") {
  CHECK(escape_label_value("plain") == "plain");
  CHECK(escape_label_value(R"(a\b)") == R"(a\\b)");
  CHECK(escape_label_value(R"(say "hi")") == R"(say \"hi\")");
  CHECK(escape_label_value("two\nlines") == R"(two\nlines)");
  CHECK(escape_label_value("tab\there") == "tab\there");
  // A value cannot close its quotes and start a forged sample.
  PrometheusText t;
  t.sample("m", {{"v", "x\"} 1\nforged 99\n"}}, uint64_t{1});
  CHECK(t.text() == "m{v=\"x\\\"} 1\\nforged 99\\n\"} 1\n");
}

TEST_CASE("prometheus text: families, samples and a cumulative histogram", "[metrics]") {
  PrometheusText t;
  t.family("x_total", "counter", "Things\nwith a \\ in help");
  t.sample("x_total", {}, uint64_t{3});
  t.sample("x_total", {{"a", "1"}, {"b", "2"}}, 0.25);
  t.family("h", "histogram", "H");
  t.histogram("h", {{"k", "ssh"}}, {0.1, 1}, {2, 0, 1}, 1.5);
  CHECK(t.text() ==
        "# HELP x_total Things\\nwith a \\\\ in help\n"
        "# TYPE x_total counter\n"
        "x_total 3\n"
        "x_total{a=\"1\",b=\"2\"} 0.25\n"
        "# HELP h H\n"
        "# TYPE h histogram\n"
        "h_bucket{k=\"ssh\",le=\"0.1\"} 2\n"
        "h_bucket{k=\"ssh\",le=\"1\"} 2\n"
        "h_bucket{k=\"ssh\",le=\"+Inf\"} 3\n"
        "h_sum{k=\"ssh\"} 1.5\n"
        "h_count{k=\"ssh\"} 3\n");
  CHECK(format_metric_value(1e-05) == "1e-05");
  CHECK(format_metric_value(std::numeric_limits<double>::infinity()) == "+Inf");
}

TEST_CASE("histogram: a value on a bound falls in that bucket (le)", "[metrics]") {
  Histogram h({0.1, 1});
  h.observe(0.1);
  h.observe(0.5);
  h.observe(7);
  h.observe(-1);  // a clock step back counts as 0
  CHECK(h.counts() == std::vector<uint64_t>{2, 1, 1});
  CHECK(h.sum() == Approx(7.6));
}

TEST_CASE("registry: fixed label sets, unknown values go nowhere or to other", "[metrics]") {
  MetricsRegistry r({"ssh", "postgres", "ssh"}, "1.2.3");
  r.decision("deny");
  r.decision("deny");
  r.decision("allow");
  r.decision("made-up");  // not a verdict: not a new label
  CHECK(r.decisions("deny") == 2);
  CHECK(r.decisions("allow") == 1);
  CHECK(r.decisions("made-up") == 0);
  r.upstream_connect("ssh").observe(0.02);
  r.upstream_connect("nonesuch").observe(0.02);
  r.auth_failure(AuthFailure::expired);
  r.recording_bytes(10);
  r.recording_bytes(5);
  r.config_reload(true);
  r.config_reload(false);
  r.config_reload(false);
  const std::string text = r.render({{{"postgres", 0}, {"ssh", 2}, {"other", 0}}, 3});
  CHECK(text.find("bastion_build_info{version=\"1.2.3\"} 1\n") != std::string::npos);
  CHECK(text.find("bastion_sessions_active{kind=\"ssh\"} 2\n") != std::string::npos);
  CHECK(text.find("bastion_decisions_total{verdict=\"deny\"} 2\n") != std::string::npos);
  CHECK(text.find("bastion_decisions_total{verdict=\"invalid\"} 0\n") != std::string::npos);
  CHECK(text.find("made-up") == std::string::npos);
  CHECK(text.find("nonesuch") == std::string::npos);
  CHECK(text.find("bastion_upstream_connect_seconds_count{kind=\"ssh\"} 1\n") != std::string::npos);
  CHECK(text.find("bastion_upstream_connect_seconds_count{kind=\"other\"} 1\n") != std::string::npos);
  CHECK(text.find("bastion_upstream_connect_seconds_count{kind=\"postgres\"} 0\n") != std::string::npos);
  CHECK(text.find("bastion_approvals_pending 3\n") != std::string::npos);
  CHECK(text.find("bastion_auth_failures_total{reason=\"expired\"} 1\n") != std::string::npos);
  CHECK(text.find("bastion_recording_bytes_total 15\n") != std::string::npos);
  CHECK(text.find("bastion_config_reload_total{result=\"ok\"} 1\n") != std::string::npos);
  CHECK(text.find("bastion_config_reload_total{result=\"error\"} 2\n") != std::string::npos);
  // An unknown pending count is left out rather than reported as 0.
  CHECK(r.render({{}, -1}).find("bastion_approvals_pending") == std::string::npos);
}

TEST_CASE("registry: counters are exact under concurrent writers", "[metrics]") {
  MetricsRegistry r({"ssh"}, "v");
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&r] {
      for (int n = 0; n < 10000; ++n) {
        r.decision("allow");
        r.policy_decision().observe(0.00001);
      }
    });
  for (auto& t : ts) t.join();
  CHECK(r.decisions("allow") == 40000);
  uint64_t total = 0;
  for (auto c : r.policy_decision().counts()) total += c;
  CHECK(total == 40000);
}

TEST_CASE("auth failure reasons: the verifier's and the front's texts map to a bounded set", "[metrics]") {
  CHECK(classify_auth_failure("certificate expired") == AuthFailure::expired);
  CHECK(classify_auth_failure("certificate not yet valid") == AuthFailure::not_yet_valid);
  CHECK(classify_auth_failure("certificate signed by untrusted CA SHA256:abc") == AuthFailure::untrusted_ca);
  CHECK(classify_auth_failure("source address 10.0.0.1 not in \"192.0.2.0/24\"") == AuthFailure::source_address);
  CHECK(classify_auth_failure("serial revoked") == AuthFailure::revoked);
  CHECK(classify_auth_failure("key revoked") == AuthFailure::revoked);
  CHECK(classify_auth_failure("bad signature") == AuthFailure::bad_signature);
  CHECK(classify_auth_failure("certificate offered but not signed for (no private key)") == AuthFailure::bad_signature);
  CHECK(classify_auth_failure("password authentication is not accepted; a user certificate is required") ==
        AuthFailure::method);
  CHECK(classify_auth_failure("no certificate offered") == AuthFailure::not_certificate);
  CHECK(classify_auth_failure("not a certificate: plain key ED25519 SHA256:x; a user certificate is required") ==
        AuthFailure::not_certificate);
  CHECK(classify_auth_failure("malformed certificate: truncated") == AuthFailure::malformed_certificate);
  CHECK(classify_auth_failure("max_sessions reached") == AuthFailure::limit);
  CHECK(classify_auth_failure("anything \"a client\" wrote") == AuthFailure::other);
  CHECK(kAuthFailureNames[static_cast<std::size_t>(AuthFailure::other)] == "other");
}

TEST_CASE("live sessions: listed while registered, counted by kind", "[metrics]") {
  LiveSessions all;
  {
    LiveSessions::Registration a(all, {"s1", "alice", "web1", "ssh", "127.0.0.1", 100});
    LiveSessions::Registration b(all, {"s2", "bob", "db", "postgres", "127.0.0.1", 50});
    LiveSessions::Registration c(all, {"s3", "eve", "nope", "unknown", "127.0.0.1", 70});
    const auto l = all.list();
    REQUIRE(l.size() == 3);
    CHECK(l[0].id == "s2");  // oldest first
    CHECK(all.count_by_kind({"postgres", "ssh"}) ==
          std::vector<std::pair<std::string, uint64_t>>{{"postgres", 1}, {"ssh", 1}, {"other", 1}});
  }
  CHECK(all.list().empty());
}

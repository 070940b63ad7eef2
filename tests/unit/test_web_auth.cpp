// The auditors' web login: one-time tokens (single use, 60 s, bound to the
// identity and its certificate's expiry), browser sessions (TTL, never past
// the certificate, bounded), and the cookie header.
#include <catch2/catch.hpp>

#include "web/audit_login.h"
#include "web/web_auth.h"
#include "web/web_cookie.h"

using namespace bastion;

namespace {
constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kCertEnd = kNow + 24 * 3600;
}  // namespace

TEST_CASE("a login token is 256 random bits and works once") {
  WebAuth a(8 * 3600, "https://127.0.0.1:8443");
  const std::string t = a.issue_token("carol", kCertEnd, kNow);
  REQUIRE(t.size() == 64);
  CHECK(t.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a.issue_token("carol", kCertEnd, kNow) != t);
  const auto l = a.redeem(t, kNow + 1);
  REQUIRE(l);
  CHECK(l->session.identity == "carol");
  CHECK(l->session.expires_at == kNow + 1 + 8 * 3600);
  CHECK(l->cookie.size() == 64);
  CHECK(l->cookie != t);
  CHECK_FALSE(a.redeem(t, kNow + 2));  // used
  const auto s = a.session(l->cookie, kNow + 3);
  REQUIRE(s);
  CHECK(s->identity == "carol");
  CHECK_FALSE(a.session(t, kNow + 3));  // the token is not a cookie
}

TEST_CASE("a login token expires after 60 seconds") {
  WebAuth a(8 * 3600, "https://127.0.0.1:8443");
  const std::string t = a.issue_token("carol", kCertEnd, kNow);
  CHECK_FALSE(a.redeem(t, kNow + WebAuth::kTokenTtl));
  CHECK(a.tokens() == 0);
  const std::string u = a.issue_token("carol", kCertEnd, kNow);
  CHECK(a.redeem(u, kNow + WebAuth::kTokenTtl - 1));
}

TEST_CASE("a web session never outlives the login certificate") {
  WebAuth a(8 * 3600, "https://127.0.0.1:8443");
  const int64_t cert_end = kNow + 3600;
  const auto l = a.redeem(a.issue_token("carol", cert_end, kNow), kNow);
  REQUIRE(l);
  CHECK(l->session.expires_at == cert_end);
  CHECK(a.session(l->cookie, cert_end - 1));
  CHECK_FALSE(a.session(l->cookie, cert_end));
  CHECK(a.sessions() == 0);
  // A certificate ending within the token's minute gets no token at all.
  CHECK(a.issue_token("carol", kNow + WebAuth::kTokenTtl, kNow).empty());
  CHECK(a.issue_token("", kCertEnd, kNow).empty());
}

TEST_CASE("web sessions expire at web_session_ttl and end at logout") {
  WebAuth a(600, "https://127.0.0.1:8443");
  const auto l = a.redeem(a.issue_token("carol", kCertEnd, kNow), kNow);
  REQUIRE(l);
  CHECK(a.session(l->cookie, kNow + 599));
  CHECK_FALSE(a.session(l->cookie, kNow + 600));
  const auto m = a.redeem(a.issue_token("dave", kCertEnd, kNow), kNow);
  REQUIRE(m);
  CHECK(a.logout(m->cookie));
  CHECK_FALSE(a.session(m->cookie, kNow));
  CHECK_FALSE(a.logout(m->cookie));
}

TEST_CASE("malformed tokens and cookies are never looked up") {
  WebAuth a(600, "https://127.0.0.1:8443");
  const std::string t = a.issue_token("carol", kCertEnd, kNow);
  std::string upper = t;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK_FALSE(a.redeem(upper, kNow));
  CHECK_FALSE(a.redeem(t + "0", kNow));
  CHECK_FALSE(a.redeem("", kNow));
  CHECK(a.redeem(t, kNow));
}

TEST_CASE("tokens and sessions held are bounded") {
  WebAuth a(600, "https://127.0.0.1:8443");
  const std::string first = a.issue_token("carol", kCertEnd, kNow);
  for (std::size_t i = 0; i < WebAuth::kMaxTokens; ++i) a.issue_token("carol", kCertEnd, kNow);
  CHECK(a.tokens() == WebAuth::kMaxTokens);
  CHECK_FALSE(a.redeem(first, kNow));  // the oldest went
  std::string oldest_cookie;
  for (std::size_t i = 0; i <= WebAuth::kMaxSessions; ++i) {
    const auto l = a.redeem(a.issue_token("carol", kCertEnd, kNow + static_cast<int64_t>(i)), kNow + static_cast<int64_t>(i));
    REQUIRE(l);
    if (i == 0) oldest_cookie = l->cookie;
  }
  CHECK(a.sessions() == WebAuth::kMaxSessions);
  CHECK_FALSE(a.session(oldest_cookie, kNow + 300));  // the one ending first went
}

TEST_CASE("the session cookie is read from the Cookie header, once") {
  CHECK(cookie_value("bastion_audit=abc", kWebCookieName) == "abc");
  CHECK(cookie_value("a=1; bastion_audit=abc; b=2", kWebCookieName) == "abc");
  CHECK(cookie_value("a=1;bastion_audit=abc", kWebCookieName) == "abc");
  CHECK_FALSE(cookie_value("xbastion_audit=abc", kWebCookieName));
  CHECK_FALSE(cookie_value("bastion_audit", kWebCookieName));
  CHECK_FALSE(cookie_value("", kWebCookieName));
  // Two values: which one is meant cannot be known.
  CHECK_FALSE(cookie_value("bastion_audit=a; bastion_audit=b", kWebCookieName));
}

TEST_CASE("audit@ login: a URL for auditors only, and no token for anyone else") {
  WebConfig web;
  web.listen_host = "10.1.1.1";  // a reload moved it: links still name the running listener
  web.listen_port = 9999;
  WebAuth a(600, "https://127.0.0.1:8443");
  const auto no = audit_login(web, &a, "alice", {"ops"}, kCertEnd, "login", kNow);
  CHECK_FALSE(no.allowed);
  CHECK(no.status == 1);
  CHECK(no.out.empty());
  CHECK(no.err == "bastion: audit: not an auditor\n");
  CHECK(no.reason == "not an auditor");
  CHECK(a.tokens() == 0);
  const auto yes = audit_login(web, &a, "carol", {"ops", "auditor"}, kCertEnd, " login ", kNow);
  CHECK(yes.allowed);
  CHECK(yes.status == 0);
  REQUIRE(yes.out.size() == std::string("https://127.0.0.1:8443/login?token=").size() + 64 + 1);
  CHECK(yes.out.starts_with("https://127.0.0.1:8443/login?token="));
  CHECK(a.tokens() == 1);
  const std::string token = yes.out.substr(yes.out.find('=') + 1, 64);
  const auto l = a.redeem(token, kNow);
  REQUIRE(l);
  CHECK(l->session.identity == "carol");
  const auto usage = audit_login(web, &a, "carol", {"auditor"}, kCertEnd, "", kNow);
  CHECK(usage.status == 2);
  CHECK(usage.err == "bastion: audit: usage: ssh audit@bastion login\n");
  WebConfig off;
  const auto disabled = audit_login(off, nullptr, "carol", {"auditor"}, kCertEnd, "login", kNow);
  CHECK(disabled.status == 1);
  CHECK(disabled.err == "bastion: audit: the web page is not enabled on this bastion (web_listen)\n");
  web.listen_host = "::1";
  CHECK(web_base_url(web) == "https://[::1]:9999");
  web.listen_host = "127.0.0.1";
  CHECK(web_base_url(web) == "https://127.0.0.1:9999");
}

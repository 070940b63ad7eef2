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

std::shared_ptr<const SshCertificate> cert(const std::string& key_id, int64_t end,
                                           std::vector<std::string> principals = {"auditor"},
                                           const std::string& source_address = "") {
  auto c = std::make_shared<SshCertificate>();
  c->key_id = key_id;
  c->principals = std::move(principals);
  c->valid_before = static_cast<uint64_t>(end);
  if (!source_address.empty()) c->critical_options.emplace_back("source-address", source_address);
  return c;
}

std::optional<WebAuth::Login> redeem(WebAuth& a, const std::string& token, int64_t now,
                                     const std::string& peer = "127.0.0.1", const WebAuth::Check& check = {}) {
  std::string why;
  return a.redeem(token, now, peer, check, why);
}

std::optional<WebSession> session(WebAuth& a, const std::string& cookie, int64_t now,
                                  const std::string& peer = "127.0.0.1", const WebAuth::Check& check = {}) {
  std::string why;
  return a.session(cookie, now, peer, check, why);
}
}  // namespace

TEST_CASE("a login token is 256 random bits and works once") {
  WebAuth a(8 * 3600, "https://127.0.0.1:8443");
  const std::string t = a.issue_token(cert("carol", kCertEnd), "192.0.2.1", kNow);
  REQUIRE(t.size() == 64);
  CHECK(t.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a.issue_token(cert("carol", kCertEnd), "192.0.2.1", kNow) != t);
  const auto l = redeem(a, t, kNow + 1);
  REQUIRE(l);
  CHECK(l->session.identity == "carol");
  CHECK(l->session.expires_at == kNow + 1 + 8 * 3600);
  CHECK(l->cookie.size() == 64);
  CHECK(l->cookie != t);
  CHECK_FALSE(redeem(a, t, kNow + 2));  // used
  const auto s = session(a, l->cookie, kNow + 3);
  REQUIRE(s);
  CHECK(s->identity == "carol");
  CHECK_FALSE(session(a, t, kNow + 3));  // the token is not a cookie
}

TEST_CASE("a login token expires after 60 seconds") {
  WebAuth a(8 * 3600, "https://127.0.0.1:8443");
  const std::string t = a.issue_token(cert("carol", kCertEnd), "192.0.2.1", kNow);
  CHECK_FALSE(redeem(a, t, kNow + WebAuth::kTokenTtl));
  CHECK(a.tokens() == 0);
  const std::string u = a.issue_token(cert("carol", kCertEnd), "192.0.2.1", kNow);
  CHECK(redeem(a, u, kNow + WebAuth::kTokenTtl - 1));
}

TEST_CASE("a web session never outlives the login certificate") {
  WebAuth a(8 * 3600, "https://127.0.0.1:8443");
  const int64_t cert_end = kNow + 3600;
  const auto l = redeem(a, a.issue_token(cert("carol", cert_end), "192.0.2.1", kNow), kNow);
  REQUIRE(l);
  CHECK(l->session.expires_at == cert_end);
  CHECK(session(a, l->cookie, cert_end - 1));
  CHECK_FALSE(session(a, l->cookie, cert_end));
  CHECK(a.sessions() == 0);
  // A certificate ending within the token's minute gets no token at all.
  CHECK(a.issue_token(cert("carol", kNow + WebAuth::kTokenTtl), "192.0.2.1", kNow).empty());
  CHECK(a.issue_token(cert("", kCertEnd), "192.0.2.1", kNow).empty());
}

TEST_CASE("web sessions expire at web_session_ttl and end at logout") {
  WebAuth a(600, "https://127.0.0.1:8443");
  const auto l = redeem(a, a.issue_token(cert("carol", kCertEnd), "192.0.2.1", kNow), kNow);
  REQUIRE(l);
  CHECK(session(a, l->cookie, kNow + 599));
  CHECK_FALSE(session(a, l->cookie, kNow + 600));
  const auto m = redeem(a, a.issue_token(cert("dave", kCertEnd), "192.0.2.1", kNow), kNow);
  REQUIRE(m);
  CHECK(a.logout(m->cookie));
  CHECK_FALSE(session(a, m->cookie, kNow));
  CHECK_FALSE(a.logout(m->cookie));
}

TEST_CASE("malformed tokens and cookies are never looked up") {
  WebAuth a(600, "https://127.0.0.1:8443");
  const std::string t = a.issue_token(cert("carol", kCertEnd), "192.0.2.1", kNow);
  std::string upper = t;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK_FALSE(redeem(a, upper, kNow));
  CHECK_FALSE(redeem(a, t + "0", kNow));
  CHECK_FALSE(redeem(a, "", kNow));
  CHECK(redeem(a, t, kNow));
}

TEST_CASE("tokens and sessions are bounded per identity: one auditor cannot push out another") {
  WebAuth a(600, "https://127.0.0.1:8443");
  const std::string erin = a.issue_token(cert("erin", kCertEnd), "192.0.2.1", kNow);
  const std::string first = a.issue_token(cert("carol", kCertEnd), "192.0.2.1", kNow);
  for (std::size_t i = 0; i < WebAuth::kMaxTokensPerIdentity; ++i)
    a.issue_token(cert("carol", kCertEnd), "192.0.2.1", kNow);
  CHECK(a.tokens() == WebAuth::kMaxTokensPerIdentity + 1);
  CHECK_FALSE(redeem(a, first, kNow));  // carol's oldest went
  const auto erin_login = redeem(a, erin, kNow);  // erin's did not
  REQUIRE(erin_login);
  std::string oldest_cookie;
  for (std::size_t i = 0; i <= WebAuth::kMaxSessionsPerIdentity; ++i) {
    const int64_t at = kNow + static_cast<int64_t>(i);
    const auto l = redeem(a, a.issue_token(cert("carol", kCertEnd), "192.0.2.1", at), at);
    REQUIRE(l);
    if (i == 0) oldest_cookie = l->cookie;
  }
  CHECK(a.sessions() == WebAuth::kMaxSessionsPerIdentity + 1);
  CHECK_FALSE(session(a, oldest_cookie, kNow + 300));  // carol's oldest went
  CHECK(session(a, erin_login->cookie, kNow + 300));   // erin's stays
}

TEST_CASE("a web session carries the certificate and the SSH peer; a check that fails ends it") {
  WebAuth a(600, "https://127.0.0.1:8443");
  const auto c = cert("carol", kCertEnd);
  const auto l = redeem(a, a.issue_token(c, "192.0.2.1", kNow), kNow);
  REQUIRE(l);
  CHECK(l->session.certificate == c);
  CHECK(l->session.ssh_peer == "192.0.2.1");
  CHECK(l->session.bound_address.empty());  // no source-address: not bound
  CHECK(session(a, l->cookie, kNow, "127.0.0.9"));
  const WebAuth::Check refuse = [](const WebSession& s) { return s.identity == "carol" ? "revoked" : ""; };
  std::string why;
  CHECK_FALSE(a.session(l->cookie, kNow, "127.0.0.1", refuse, why));
  CHECK(why == "revoked");
  CHECK(a.sessions() == 0);                       // ended, not merely refused once
  CHECK_FALSE(session(a, l->cookie, kNow));       // for good
  // Redeeming: a refused token is used up, and no session exists.
  const std::string t = a.issue_token(c, "192.0.2.1", kNow);
  CHECK_FALSE(a.redeem(t, kNow, "127.0.0.1", refuse, why));
  CHECK(why == "revoked");
  CHECK(a.tokens() == 0);
  CHECK(a.sessions() == 0);
}

TEST_CASE("a certificate with source-address binds its web session to the address that redeemed it") {
  WebAuth a(600, "https://127.0.0.1:8443");
  const auto l = redeem(a, a.issue_token(cert("leo", kCertEnd, {"auditor"}, "127.0.0.1"), "127.0.0.1", kNow), kNow,
                        "127.0.0.1");
  REQUIRE(l);
  CHECK(l->session.bound_address == "127.0.0.1");
  CHECK(session(a, l->cookie, kNow, "127.0.0.1"));
  std::string why;
  CHECK_FALSE(a.session(l->cookie, kNow, "127.0.0.2", {}, why));
  CHECK(why == "the certificate has source-address: this session answers only 127.0.0.1");
  CHECK_FALSE(session(a, l->cookie, kNow, "127.0.0.1"));  // ended
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
  const auto no = audit_login(web, &a, cert("alice", kCertEnd, {"ops"}), "192.0.2.1", "login", kNow);
  CHECK_FALSE(no.allowed);
  CHECK(no.status == 1);
  CHECK(no.out.empty());
  CHECK(no.err == "bastion: audit: not an auditor\n");
  CHECK(no.reason == "not an auditor");
  CHECK(a.tokens() == 0);
  const auto yes = audit_login(web, &a, cert("carol", kCertEnd, {"ops", "auditor"}), "192.0.2.1", " login ", kNow);
  CHECK(yes.allowed);
  CHECK(yes.status == 0);
  REQUIRE(yes.out.size() == std::string("https://127.0.0.1:8443/login?token=").size() + 64 + 1);
  CHECK(yes.out.starts_with("https://127.0.0.1:8443/login?token="));
  CHECK(a.tokens() == 1);
  const std::string token = yes.out.substr(yes.out.find('=') + 1, 64);
  const auto l = redeem(a, token, kNow);
  REQUIRE(l);
  CHECK(l->session.identity == "carol");
  CHECK(l->session.ssh_peer == "192.0.2.1");
  CHECK_FALSE(audit_login(web, &a, nullptr, "192.0.2.1", "login", kNow).allowed);  // no certificate: refused
  const auto usage = audit_login(web, &a, cert("carol", kCertEnd), "192.0.2.1", "", kNow);
  CHECK(usage.status == 2);
  CHECK(usage.err == "bastion: audit: usage: ssh audit@bastion login\n");
  WebConfig off;
  const auto disabled = audit_login(off, nullptr, cert("carol", kCertEnd), "192.0.2.1", "login", kNow);
  CHECK(disabled.status == 1);
  CHECK(disabled.err == "bastion: audit: the web page is not enabled on this bastion (web_listen)\n");
  web.listen_host = "::1";
  CHECK(web_base_url(web) == "https://[::1]:9999");
  web.listen_host = "127.0.0.1";
  CHECK(web_base_url(web) == "https://127.0.0.1:9999");
}

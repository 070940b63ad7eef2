#include "web/web_server.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include <httplib.h>

#include "common/log.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "web/api_routes.h"
#include "common/bounded_task_queue.h"
#include "web/static_assets.h"
#include "web/web_access.h"
#include "web/web_cookie.h"
#include "web/web_tls.h"

namespace bastion {
namespace {

constexpr const char* kLoginRequired = "login required: ssh audit@bastion login";

// Plain pages for the browser (no script, inline style only).
std::string page(const std::string& title, const std::string& text) {
  return "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + title +
         "</title></head><body style=\"font-family:sans-serif;margin:3em\"><h1>" + title + "</h1><p>" + text +
         "</p></body></html>\n";
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

void refuse_login(const httplib::Request& req, httplib::Response& res) {
  if (req.path.starts_with("/api/") || req.path == "/api") return json_error(res, 401, kLoginRequired);
  res.status = 401;
  res.set_content(page("Login required", "Run <code>ssh audit@bastion login</code> and open the link it prints."),
                  "text/html; charset=utf-8");
}

bool has_body(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  if (!req.has_header("Content-Length")) return false;
  return req.get_header_value_count("Content-Length") != 1 || req.get_header_value("Content-Length") != "0";
}

// Every request meets the checks an SSH login of the session's certificate
// would meet now: the config and revocations as the last reload left them.
WebAuth::Check checker(const WebServer::ConfigSource& current, const httplib::Request& req) {
  return [&current, &req](const WebSession& s) {
    const auto cfg = current();
    if (!cfg) return std::string("no configuration");
    return web_access_refusal(s, *cfg, unix_now(), req.remote_addr);
  };
}

// The live session of the request's cookie. A session the checks refuse is
// ended and the request answered 401 with the reason (`ended`).
std::optional<WebSession> session_of(WebAuth& auth, const WebServer::ConfigSource& current,
                                     const httplib::Request& req, std::string& ended) {
  ended.clear();
  const auto cookie = cookie_value(req.get_header_value("Cookie"), kWebCookieName);
  if (!cookie) return std::nullopt;
  auto s = auth.session(*cookie, unix_now(), req.remote_addr, checker(current, req), ended);
  if (!s && !ended.empty()) log_warn("web: session ended", {{"peer", req.remote_addr}, {"reason", ended}});
  return s;
}

void refuse_session(const std::string& ended, const httplib::Request& req, httplib::Response& res) {
  if (ended.empty()) return refuse_login(req, res);
  const std::string why = "session ended: " + ended + "; " + kLoginRequired;
  if (req.path.starts_with("/api/") || req.path == "/api") return json_error(res, 401, why);
  res.status = 401;
  res.set_content(page("Session ended", "Your web session ended: " + html_escape(ended) +
                                            ". Run <code>ssh audit@bastion login</code> and open the link it prints."),
                  "text/html; charset=utf-8");
}

void login(WebAuth& auth, const WebServer::ConfigSource& current, const httplib::Request& req,
           httplib::Response& res) {
  const std::string token = req.params.size() == 1 ? req.get_param_value("token") : std::string();
  std::string why = "unknown, used or expired link";
  const auto l = token.empty() ? std::nullopt : auth.redeem(token, unix_now(), req.remote_addr, checker(current, req), why);
  if (!l) {
    log_warn("web: login refused", {{"peer", req.remote_addr}, {"reason", why}});
    res.status = 401;
    res.set_content(page("Login link not valid",
                         "This login link was already used, has expired, or may not be used from here (" +
                             html_escape(why) + "). Run <code>ssh audit@bastion login</code> "
                             "again and open the new link within a minute."),
                    "text/html; charset=utf-8");
    return;
  }
  log_info("web: auditor logged in", {{"identity", l->session.identity}, {"peer", req.remote_addr},
                                      {"ssh_peer", l->session.ssh_peer},
                                      {"bound_to", l->session.bound_address},
                                      {"expires", iso8601(l->session.expires_at)}});
  res.status = 303;
  res.set_header("Location", "/");
  res.set_header("Set-Cookie", std::string(kWebCookieName) + "=" + l->cookie + "; HttpOnly; Secure; SameSite=Strict; Path=/");
}

void logout(WebAuth& auth, const httplib::Request& req, httplib::Response& res) {
  const auto cookie = cookie_value(req.get_header_value("Cookie"), kWebCookieName);
  // A form posted from another origin: refused even with the cookie
  // (SameSite=Strict already keeps it from being sent).
  const std::string origin = req.get_header_value("Origin");
  if (!origin.empty() && origin != "https://" + req.get_header_value("Host"))
    return json_error(res, 403, "cross-origin request refused");
  if (!cookie || !auth.logout(*cookie)) return refuse_login(req, res);
  res.status = 204;
  res.set_header("Set-Cookie", std::string(kWebCookieName) + "=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
}

void serve_asset(const std::string& dir, std::string_view name, httplib::Response& res) {
  auto body = read_asset(dir, name);
  if (!body) {
    res.status = 404;
    res.set_content(page("Not found", "No such file."), "text/html; charset=utf-8");
    return;
  }
  res.set_content(std::move(*body), asset_content_type(name));
}

}  // namespace

std::string default_web_assets_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "/usr/share/bastion/web";
  return (exe.parent_path().parent_path() / "share" / "bastion" / "web").string();
}

std::unique_ptr<WebServer> WebServer::start(const Config& cfg, ConfigSource current, WebAuth& auth,
                                            std::string& error) {
  WebTlsIdentity id;
  if (!load_web_tls_identity(cfg.web.cert_file, cfg.web.key_file, cfg.data_dir, id, error)) return nullptr;
  std::unique_ptr<WebServer> w(new WebServer());
  w->cert_path_ = id.cert_path;
  w->current_ = std::move(current);
  w->guard_ = std::make_unique<ConnectionGuard>(kMaxPerAddress, std::chrono::seconds(kHeaderDeadline),
                                                std::chrono::seconds(kKeepAlive));
  ConnectionGuard& guard = *w->guard_;
  w->http_ = std::make_unique<httplib::SSLServer>([&id, &guard](SSL_CTX& ctx) {
    if (!configure_web_ssl_ctx(ctx, id)) return false;
    guard.install(ctx);
    return true;
  });
  httplib::SSLServer& s = *w->http_;
  if (!s.is_valid()) return error = "web: cannot set up TLS with " + id.cert_path, nullptr;

  WebServer* self = w.get();
  w->queue_ = std::make_unique<TaskQueueSlot>();
  s.new_task_queue = [self] {
    return new BoundedTaskQueue(kThreads, kMaxConnections, *self->queue_, self->guard_.get());
  };
  s.set_payload_max_length(kMaxPayload);
  s.set_read_timeout(kReadTimeout, 0);
  s.set_write_timeout(kWriteTimeout, 0);
  s.set_keep_alive_timeout(kKeepAlive);
  s.set_keep_alive_max_count(kKeepAliveRequests);
  s.set_default_headers({
      // 'wasm-unsafe-eval': asciinema-player's terminal emulator is WebAssembly,
      // which Chromium will not compile without it; it allows no JS eval.
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", "no-store"},
      {"X-Frame-Options", "DENY"},
  });

  // Nothing but /login answers without a live session.
  const ConfigSource& now_cfg = self->current_;
  s.set_pre_routing_handler([&auth, &now_cfg, &guard](const httplib::Request& req, httplib::Response& res) {
    guard.headers_read();
    // No route takes a body. Refused before httplib reads one: it reads a
    // chunked body whole, past payload_max_length (CVE-2025-46728).
    if (has_body(req)) {
      res.status = 413;
      res.set_header("Connection", "close");
      if (req.path.starts_with("/api/")) json_error(res, 413, "request bodies are not accepted");
      else res.set_content(page("Request body refused", "No page here takes a request body."), "text/html; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path == "/login") return httplib::Server::HandlerResponse::Unhandled;
    std::string ended;
    if (session_of(auth, now_cfg, req, ended)) return httplib::Server::HandlerResponse::Unhandled;
    refuse_session(ended, req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string what = res.status == 404 ? "not found" : res.status == 405 ? "method not allowed" : "bad request";
    if (req.path.starts_with("/api/")) json_error(res, res.status, what);
    else res.set_content(page(what, what), "text/html; charset=utf-8");
  });
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log_error("web: internal error", {{"path", clip_untrusted(req.path)}, {"error", clip_untrusted(what)}});
    json_error(res, 500, "internal error");
  });
  s.set_logger([&guard](const httplib::Request& req, const httplib::Response& res) {
    guard.response_sent();
    // Method and path come from anyone who can connect: clipped like
    // pre-authentication strings on the SSH side.
    log_info("web request", {{"method", clip_untrusted(req.method)}, {"path", clip_untrusted(req.path)},
                             {"status", std::to_string(res.status)},
                             {"peer", req.remote_addr}});
  });

  const RouteGuard require = [&auth, &now_cfg](RouteBody body) {
    return [&auth, &now_cfg, body = std::move(body)](const httplib::Request& req, httplib::Response& res) {
      std::string ended;
      const auto ws = session_of(auth, now_cfg, req, ended);
      if (!ws) return refuse_session(ended, req, res);
      body(req, res, *ws);
    };
  };
  const std::string assets = cfg.web.assets_dir.empty() ? default_web_assets_dir() : cfg.web.assets_dir;
  s.Get("/login", [&auth, &now_cfg](const httplib::Request& req, httplib::Response& res) {
    login(auth, now_cfg, req, res);
  });
  s.Post("/logout", [&auth](const httplib::Request& req, httplib::Response& res) { logout(auth, req, res); });
  s.Get("/", require([assets](const httplib::Request&, httplib::Response& res, const WebSession&) {
    serve_asset(assets, "index.html", res);
  }));
  s.Get(R"(/assets/([^/]+))", require([assets](const httplib::Request& req, httplib::Response& res, const WebSession&) {
    serve_asset(assets + "/assets", req.matches[1].str(), res);
  }));
  std::shared_ptr<const StoredRecordingSource> stored;
  if (cfg.recordings_store.enabled())
    stored = std::make_shared<const StoredRecordingSource>(
        StoredRecordingSource{cfg.recordings_store, cfg.limits.recording_max_bytes + (1u << 20)});
  install_api_routes(s, WebPaths{cfg.audit_store(), cfg.store_password_file, cfg.recordings_dir(), stored}, require);

  if (!s.bind_to_port(cfg.web.listen_host, cfg.web.listen_port))
    return error = "web: cannot listen on " + cfg.web.listen_host + ":" + std::to_string(cfg.web.listen_port), nullptr;
  w->listener_.start(*w->http_, "web");
  return w;
}

void WebServer::stop() {
  if (!http_) return;
  queue_->release();
  listener_.stop();
}

WebServer::~WebServer() { stop(); }

}  // namespace bastion

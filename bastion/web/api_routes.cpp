#include "web/api_routes.h"

#include <unistd.h>

#include <cerrno>

#include <filesystem>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "audit/audit_query.h"
#include "common/log.h"
#include "common/time_util.h"
#include "web/api_params.h"
#include "audit/recording_file.h"

namespace bastion {
namespace {

constexpr std::size_t kChunk = 64 * 1024;

QueryParams params_of(const httplib::Request& req) {
  QueryParams out;
  for (const auto& [k, v] : req.params) out.emplace_back(k, v);
  return out;
}

void json_ok(httplib::Response& res, const nlohmann::json& body) {
  // ensure_ascii: whatever bytes the store holds, the response is ASCII JSON.
  res.set_content(body.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace), "application/json");
}

std::unique_ptr<AuditQuery> open_store(const WebPaths& p, httplib::Response& res) {
  std::string err;
  auto q = AuditQuery::open(p.audit_db, err, p.store_password_file);
  if (!q) {
    log_error("web: cannot open the audit store", {{"error", err}});
    json_error(res, 503, "the audit store is unavailable");
  }
  return q;
}

// A session's detail, or a 4xx/5xx answered already.
std::optional<SessionDetail> detail_of(AuditQuery& q, const std::string& id, httplib::Response& res) {
  if (!valid_session_id(id)) return json_error(res, 400, "not a session id"), std::nullopt;
  std::string err;
  auto d = q.session_detail(id, err);
  if (!d) {
    if (err.empty()) json_error(res, 404, "no such session");
    else log_error("web: session query failed", {{"error", err}}), json_error(res, 503, "the audit store is unavailable");
  }
  return d;
}

const CommandRow* command_of(const SessionDetail& d, int64_t id) {
  for (const auto& c : d.commands)
    if (c.id == id) return &c;
  return nullptr;
}

bool recording_live(const SessionDetail& d, const SessionRecording& r) {
  if (!d.session.ended_at.empty()) return false;
  const CommandRow* c = command_of(d, r.command_id);
  return !c || c->ended_at.empty();
}

nlohmann::json detail_json(const SessionDetail& d) {
  nlohmann::json j = d;
  j["session"]["live"] = d.session.ended_at.empty();
  nlohmann::json recs = nlohmann::json::array();
  for (std::size_t i = 0; i < d.recordings.size(); ++i) {
    const SessionRecording& r = d.recordings[i];
    nlohmann::json e = r;
    e.erase("path");  // the server's own path: the name and index say which
    const CommandRow* c = command_of(d, r.command_id);
    e["index"] = i;
    e["channel"] = c ? c->channel : -1;
    e["name"] = std::filesystem::path(r.path).filename().string();
    e["live"] = recording_live(d, r);
    recs.push_back(std::move(e));
  }
  j["recordings"] = std::move(recs);
  return j;
}

void list_sessions(const WebPaths& p, const httplib::Request& req, httplib::Response& res) {
  std::string why;
  const auto f = parse_api_filter(ApiList::sessions, params_of(req), unix_now(), why);
  if (!f) return json_error(res, 400, why);
  auto q = open_store(p, res);
  if (!q) return;
  const auto rows = q->sessions(*f, why);
  if (!rows) return log_error("web: sessions query failed", {{"error", why}}), json_error(res, 503, "the audit store is unavailable");
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : *rows) {
    nlohmann::json e = r;
    e["live"] = r.ended_at.empty();
    list.push_back(std::move(e));
  }
  json_ok(res, {{"sessions", std::move(list)}});
}

void list_commands(const WebPaths& p, const httplib::Request& req, httplib::Response& res) {
  std::string why;
  const auto f = parse_api_filter(ApiList::commands, params_of(req), unix_now(), why);
  if (!f) return json_error(res, 400, why);
  auto q = open_store(p, res);
  if (!q) return;
  const auto rows = q->commands(*f, why);
  if (!rows) return log_error("web: commands query failed", {{"error", why}}), json_error(res, 503, "the audit store is unavailable");
  json_ok(res, {{"commands", *rows}});
}

void show_session(const WebPaths& p, const httplib::Request& req, httplib::Response& res) {
  if (!req.params.empty()) return json_error(res, 400, "this route takes no parameters");
  auto q = open_store(p, res);
  if (!q) return;
  const auto d = detail_of(*q, req.matches[1], res);
  if (d) json_ok(res, detail_json(*d));
}

void get_recording(const WebPaths& p, const httplib::Request& req, httplib::Response& res) {
  std::string why;
  const auto offset = parse_recording_query(params_of(req), why);
  if (!offset) return json_error(res, 400, why);
  const auto index = parse_recording_index(req.matches[2].str());
  if (!index) return json_error(res, 400, "recording index: expected 0 to 9999");
  auto q = open_store(p, res);
  if (!q) return;
  const std::string id = req.matches[1];
  const auto d = detail_of(*q, id, res);
  if (!d) return;
  if (*index >= d->recordings.size()) return json_error(res, 404, "no such recording");
  const SessionRecording& r = d->recordings[*index];
  auto file = open_session_recording(p.recordings_dir, id, r.path, why);
  if (!file && p.stored && ::access(r.path.c_str(), F_OK) != 0 && errno == ENOENT) {
    // Not on local disk: shipped to the recordings_store, perhaps.
    std::string stored_why;
    file = open_stored_session_recording(*p.stored, p.audit_db, p.store_password_file, p.recordings_dir, id, r.path,
                                         stored_why);
    if (!stored_why.empty()) why += "; " + stored_why;
  }
  if (!file) {
    log_warn("web: recording refused", {{"session", id}, {"index", std::to_string(*index)}, {"reason", why}});
    return json_error(res, 404, "recording unavailable");
  }
  if (*offset > file->size) return json_error(res, 416, "offset past the end of the recording");
  res.set_header("X-Recording-Size", std::to_string(file->size));
  res.set_header("X-Recording-Live", recording_live(*d, r) ? "1" : "0");
  // Streamed from the open descriptor up to the size seen at open, so a
  // growing (live) recording yields a consistent prefix.
  auto fd = std::make_shared<OwnedFd>(std::move(file->fd));
  const uint64_t start = *offset, length = file->size - *offset;
  res.set_content_provider(
      static_cast<std::size_t>(length), "application/x-asciicast",
      [fd, start, length](std::size_t off, std::size_t, httplib::DataSink& sink) {
        char buf[kChunk];
        const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(kChunk, length - off));
        const ssize_t n = ::pread(fd->get(), buf, want, static_cast<off_t>(start + off));
        if (n <= 0) return false;  // the file shrank: end the response short
        return sink.write(buf, static_cast<std::size_t>(n));
      });
}

}  // namespace

void json_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  json_ok(res, {{"error", message}});
}

void install_api_routes(httplib::Server& s, const WebPaths& paths, const RouteGuard& require) {
  s.Get("/api/me", require([](const httplib::Request& req, httplib::Response& res, const WebSession& ws) {
    if (!req.params.empty()) return json_error(res, 400, "this route takes no parameters");
    json_ok(res, {{"identity", ws.identity}, {"expires_at", iso8601(ws.expires_at)}});
  }));
  s.Get("/api/sessions", require([paths](const httplib::Request& req, httplib::Response& res, const WebSession&) {
    list_sessions(paths, req, res);
  }));
  s.Get("/api/commands", require([paths](const httplib::Request& req, httplib::Response& res, const WebSession&) {
    list_commands(paths, req, res);
  }));
  s.Get(R"(/api/sessions/([^/]+))", require([paths](const httplib::Request& req, httplib::Response& res,
                                                    const WebSession&) { show_session(paths, req, res); }));
  s.Get(R"(/api/sessions/([^/]+)/recordings/([^/]+))",
        require([paths](const httplib::Request& req, httplib::Response& res, const WebSession&) {
          get_recording(paths, req, res);
        }));
}

}  // namespace bastion

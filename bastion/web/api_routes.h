// The JSON API under /api (bastion-web(7)): read-only views of the audit
// store through AuditQuery, and recordings by index. Every route needs a
// live web session; the caller (web_server.cpp) checks it first.
#pragma once
#include <memory>

#include "web/stored_recording_file.h"
#include <functional>
#include <string>

#include <httplib.h>

#include "web/web_auth.h"

namespace bastion {

struct WebPaths {
  std::string audit_db;        // opened read-only per request (a SQLite file or a postgresql:// store)
  std::string store_password_file;
  std::string recordings_dir;  // recordings are opened only beneath it
  // Recordings shipped off the host (recordings_store), when one is set.
  std::shared_ptr<const StoredRecordingSource> stored;
};

// `require`: a wrapper that answers 401 unless the request carries a live
// session, and otherwise calls the route with it.
using RouteBody = std::function<void(const httplib::Request&, httplib::Response&, const WebSession&)>;
using RouteGuard = std::function<std::function<void(const httplib::Request&, httplib::Response&)>(RouteBody)>;

void install_api_routes(httplib::Server& s, const WebPaths& paths, const RouteGuard& require);

// {"error": message} with `status`.
void json_error(httplib::Response& res, int status, const std::string& message);

}  // namespace bastion

// A session's connection to an HTTP target: nothing opens upstream until a
// channel sends a request. Each tunnel channel (one client TCP connection)
// and each exec call (`GET /path`) gets its own HttpConnection worker; the
// registry tokens earned are shared by the session's connections.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "targets/http/http_settings.h"
#include "targets/http/http_token_cache.h"
#include "targets/target.h"

namespace bastion {

class HttpTargetConnection : public TargetConnection {
 public:
  static std::unique_ptr<HttpTargetConnection> connect(const TargetConfig& t, const HttpCredential& cred,
                                                       std::string& error);
  ~HttpTargetConnection() override;

  std::unique_ptr<Executor> start(const ExecRequest& req, std::string& error) override;
  void attach(ssh_event ev) override;
  void detach() override;
  bool connected() const override { return true; }

 private:
  HttpTargetConnection() = default;
  void watch(int fd, short events, bool wake);

  std::string name_;
  std::shared_ptr<const HttpSettings> settings_;
  std::shared_ptr<const HttpCredential> cred_;
  std::shared_ptr<HttpTokenCache> tokens_ = std::make_shared<HttpTokenCache>();
  ssh_event event_ = nullptr;
  struct Watched {
    short events;
    bool wake;  // an eventfd
  };
  std::map<int, Watched> watched_;
};

// The exec form's request: "METHOD /path?query" (no body); nullopt + why
// when the command is not one.
std::optional<std::string> http_exec_request(const std::string& command, const std::string& host, std::string& error);

}  // namespace bastion

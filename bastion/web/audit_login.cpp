#include "web/audit_login.h"

#include <unistd.h>

#include <algorithm>

#include "filters/output_writer.h"

namespace bastion {
namespace {

class FixedOutputExecutor : public Executor {
 public:
  FixedOutputExecutor(std::string out, std::string err, int status) : out_(std::move(out)), err_(std::move(err)) {
    exit_.status = status;
  }
  std::size_t input_capacity() override { return 0; }
  bool write_input(std::string_view) override { return true; }
  void send_eof() override {}
  void window_change(int, int) override {}
  void send_signal(const std::string&) override {}
  bool pump_output(OutputWriter& out, std::size_t) override {
    if (done_) return false;
    if (!out_.empty()) out.write(Stream::out, std::move(out_));
    if (!err_.empty()) out.write(Stream::err, std::move(err_));
    done_ = true;
    return false;
  }
  ExitInfo exit_info() const override { return exit_; }
  void close() override {}

 private:
  std::string out_, err_;
  bool done_ = false;
  ExitInfo exit_;
};

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::string url_host(const std::string& host) {
  if (host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) == 0 && name[0]) return name;
    return "localhost";
  }
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

bool is_auditor(const WebConfig& web, const std::vector<std::string>& principals) {
  return std::any_of(principals.begin(), principals.end(), [&](const std::string& p) {
    return std::find(web.auditor_principals.begin(), web.auditor_principals.end(), p) !=
           web.auditor_principals.end();
  });
}

AuditLoginOutcome audit_login(const WebConfig& web, WebAuth* auth, std::shared_ptr<const SshCertificate> cert,
                              const std::string& ssh_peer, const std::string& command, int64_t now) {
  AuditLoginOutcome o;
  if (!cert || !is_auditor(web, cert->principals)) {
    o.reason = "not an auditor";
    o.err = "bastion: audit: not an auditor\n";
    return o;
  }
  if (trimmed(command) != "login") {
    o.reason = "usage";
    o.err = "bastion: audit: usage: ssh " + std::string(WebConfig::kLoginTarget) + "@bastion login\n";
    o.status = 2;
    return o;
  }
  if (!auth) {
    o.reason = "the web page is not enabled";
    o.err = "bastion: audit: the web page is not enabled on this bastion (web_listen)\n";
    return o;
  }
  const std::string token = auth->issue_token(std::move(cert), ssh_peer, now);
  if (token.empty()) {
    o.reason = "no token (certificate expires within a minute, too many pending links, or no randomness)";
    o.err = "bastion: audit: cannot issue a login link (does your certificate expire within a minute?)\n";
    return o;
  }
  o.allowed = true;
  o.reason = "auditor web login";
  o.out = auth->base_url() + "/login?token=" + token + "\n";
  o.err = "bastion: this link works once, within " + std::to_string(WebAuth::kTokenTtl) + " seconds\n";
  o.status = 0;
  return o;
}

std::string web_base_url(const WebConfig& web) {
  return "https://" + url_host(web.listen_host) + ":" + std::to_string(web.listen_port);
}

std::unique_ptr<Executor> fixed_output_executor(std::string out, std::string err, int status) {
  return std::make_unique<FixedOutputExecutor>(std::move(out), std::move(err), status);
}

}  // namespace bastion

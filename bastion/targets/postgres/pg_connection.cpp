#include "targets/postgres/pg_connection.h"

#include <fcntl.h>

#include <cctype>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bastion {
namespace {

// A libpq passfile that exists only in memory (memfd), for one connect.
class HeldPassfile {
 public:
  HeldPassfile() = default;
  HeldPassfile(const HeldPassfile&) = delete;
  HeldPassfile& operator=(const HeldPassfile&) = delete;
  ~HeldPassfile() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool open(const HeldSecret& text) {
    fd_ = memfd_create("bastion-passfile", MFD_CLOEXEC);
    if (fd_ < 0 || fchmod(fd_, 0600) != 0) return false;  // libpq ignores a passfile others could read
    std::size_t done = 0;
    while (done < text.bytes.size()) {
      const ssize_t n = ::write(fd_, text.bytes.data() + done, text.bytes.size() - done);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_ = -1;
};

}  // namespace

std::string first_line(const char* msg) {
  std::string s = msg ? msg : "";
  const auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

namespace {

// A value in libpq's `options` (backslash escapes blanks and backslashes).
std::string options_escaped(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '\\') out += '\\';  // the server splits on isspace()
    out += c;
  }
  return out;
}

}  // namespace

std::unique_ptr<PgConnection> PgConnection::connect(const TargetConfig& t, const PostgresCredential& cred,
                                                    std::string& error, const PgConnectOptions& options) {
  const PostgresSettings& p = kind_part<PostgresSettings>(t.settings.get());
  std::vector<std::pair<std::string, std::string>> kv;
  auto add = [&kv](const char* k, const std::string& v) {
    if (!v.empty()) kv.emplace_back(k, v);
  };
  add("service", p.service);
  add("host", p.host);
  add("port", std::to_string(p.port));
  add("dbname", p.dbname);
  add("user", cred.user);
  add("sslmode", p.sslmode);
  add("sslrootcert", p.sslrootcert);
  add("connect_timeout", std::to_string(p.connect_timeout));
  add("application_name", options.application_name);
  add("client_encoding", "UTF8");
  std::string opts;
  for (const auto& [k, v] : options.settings) opts += (opts.empty() ? "-c " : " -c ") + k + "=" + options_escaped(v);
  // The target's own limit last: a client's setting cannot override it.
  if (p.statement_timeout > 0)
    opts += (opts.empty() ? "-c " : " -c ") + std::string("statement_timeout=") + std::to_string(p.statement_timeout) + "s";
  add("options", opts);
  // The held copies, read at load: libpq gets the password itself, and the
  // passfile's content through an anonymous 0600 file only this connect sees.
  if (!cred.password_file.empty()) add("password", cred.password.bytes);
  HeldPassfile passfile;
  if (!cred.passfile.empty()) {
    if (!passfile.open(cred.passfile_text)) {
      error = "the credential for target \"" + t.name + "\" is unavailable";
      return nullptr;
    }
    add("passfile", passfile.path());
  }
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : kv) keys.push_back(k.c_str()), values.push_back(v.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), 0);
  for (auto& [k, v] : kv)
    if (k == "password") explicit_bzero(v.data(), v.size());
  if (!c) {
    error = "cannot connect to \"" + t.name + "\": out of memory";
    return nullptr;
  }
  std::unique_ptr<PgConnection> conn(new PgConnection(c));
  if (!conn->ok()) {
    error = "cannot connect to \"" + t.name + "\": " + conn->last_error();
    return nullptr;
  }
  return conn;
}

char PgConnection::tx_state() const {
  switch (PQtransactionStatus(conn_.get())) {
    case PQTRANS_INTRANS: return '*';
    case PQTRANS_INERROR: return '!';
    case PQTRANS_ACTIVE: return '*';
    default: return '=';
  }
}

bool PgConnection::cancel(std::string& error) {
  PGcancel* c = PQgetCancel(conn_.get());
  if (!c) return error = "no connection", false;
  char buf[256] = {0};
  const bool ok = PQcancel(c, buf, sizeof buf) == 1;
  PQfreeCancel(c);
  if (!ok) error = buf;
  return ok;
}

PgResult PgConnection::query(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> v;
  for (const auto& p : params) v.push_back(p.c_str());
  return PgResult(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(v.size()), nullptr, v.data(),
                               nullptr, nullptr, 0));
}

std::string PgConnection::last_error() const {
  // libpq's message may span lines ("... failed: FATAL: ..."): keep them, trimmed.
  std::string s = PQerrorMessage(conn_.get());
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& ch : s)
    if (ch == '\n') ch = ' ';
  return s;
}

}  // namespace bastion

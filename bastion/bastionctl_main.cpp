// bastionctl: the admin and auditor command line.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <sqlite3.h>
#include <unistd.h>

#include "audit/sqlite_handles.h"
#include "common/parse_number.h"
#include "common/display_escape.h"
#include "config/config.h"
#include "targets/target_kind.h"
#include "ctl/commands.h"
#include "recorder/asciicast_player.h"
#include "recorder/asciicast_reader.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: bastionctl config check FILE\n"
               "       bastionctl policy check FILE... | policy test FILE ... (see bastionctl(1))\n"
               "       bastionctl recording cat FILE         print what the user saw\n"
               "       bastionctl recording play [--speed X] [--markers] FILE\n"
               "       bastionctl recording verify FILE      check a recording is well formed\n"
               "       bastionctl audit sessions --db FILE [--identity ID] [--target T] [--limit N]\n"
               "       bastionctl audit commands --db FILE [--session ID] [--grep TEXT] [--limit N]\n"
               "       bastionctl ca init [--type ed25519|ecdsa|rsa] [--bits N] FILE\n"
               "       bastionctl cert issue --ca FILE --identity ID --principals P,... --ttl 8h ... PUBKEY_FILE\n"
               "       bastionctl approvals (--config FILE | --db FILE) list | show N | approve N | deny N --reason T\n");
  const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
  for (const auto& kind : kinds.all())
    for (const auto& c : kind->ctl_commands()) std::fprintf(stderr, "       %s\n", c.usage.c_str());
  return 2;
}

std::optional<recorder::Asciicast> read_cast(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "bastionctl: %s: cannot open\n", bastion::display_escape(path).c_str());
    return std::nullopt;
  }
  std::string err;
  auto cast = recorder::read_asciicast(in, err);
  if (!cast)
    std::fprintf(stderr, "bastionctl: %s: %s\n", bastion::display_escape(path).c_str(),
                 bastion::display_escape(err).c_str());
  return cast;
}

int cmd_recording(const std::vector<std::string>& a) {
  if (a.size() < 2) return usage();
  recorder::PlayOptions opts;
  opts.marker_text = [](std::string_view s) { return bastion::display_escape(s); };
  std::string file;
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (a[i] == "--speed" && i + 1 < a.size()) {
      std::string why;
      const auto v = bastion::parse_decimal(a[++i], 0.01, 1000, &why);
      if (!v) return std::fprintf(stderr, "bastionctl: --speed %s: %s\n", a[i].c_str(), why.c_str()), 2;
      opts.speed = *v;
    }
    else if (a[i] == "--markers") opts.show_markers = true;
    else file = a[i];
  }
  if (file.empty()) return usage();
  auto cast = read_cast(file);
  if (!cast) return 1;
  // cat and play reproduce the terminal on purpose (that is what the user saw);
  // nothing else here writes recorded bytes unescaped.
  if (a[0] == "cat") {
    const std::string out = recorder::asciicast_output(*cast);
    return fwrite(out.data(), 1, out.size(), stdout) == out.size() ? 0 : 1;
  }
  if (a[0] == "play") return recorder::play_asciicast(*cast, STDOUT_FILENO, opts) ? 0 : 1;
  if (a[0] == "verify") {
    std::printf("%s: asciicast v2, %dx%d, %zu events%s\n", bastion::display_escape(file).c_str(), cast->header.width,
                cast->header.height, cast->events.size(),
                cast->truncated ? " (last line truncated: the writer was interrupted)" : "");
    return 0;
  }
  return usage();
}

int cmd_audit(const std::vector<std::string>& a) {
  if (a.empty()) return usage();
  std::string db, identity, target, session, grep;
  int limit = 50;
  for (std::size_t i = 1; i + 1 < a.size(); i += 2) {
    if (a[i] == "--db") db = a[i + 1];
    else if (a[i] == "--identity") identity = a[i + 1];
    else if (a[i] == "--target") target = a[i + 1];
    else if (a[i] == "--session") session = a[i + 1];
    else if (a[i] == "--grep") grep = a[i + 1];
    else if (a[i] == "--limit") {
      std::string why;
      const auto v = bastion::parse_unsigned(a[i + 1], 1, 1000000, &why);
      if (!v) return std::fprintf(stderr, "bastionctl: --limit %s: %s\n", a[i + 1].c_str(), why.c_str()), 2;
      limit = static_cast<int>(*v);
    }
    else return usage();
  }
  if (db.empty()) return usage();
  auto failed = [&db](const std::string& why) {
    std::fprintf(stderr, "bastionctl: %s: %s\n", bastion::display_escape(db).c_str(), bastion::display_escape(why).c_str());
    return 1;
  };
  std::string err;
  const bastion::SqliteDb h = bastion::open_sqlite_readonly(db, err);
  if (!h) return failed(err);
  // bastiond writes while auditors read: wait out a checkpoint instead of failing.
  sqlite3_busy_timeout(h.get(), 5000);
  std::string sql;
  std::vector<std::string> binds;
  if (a[0] == "sessions") {
    sql = "SELECT id, identity, target, source_address, started_at, IFNULL(ended_at,''), "
          "IFNULL(end_reason,''), IFNULL(exit_status,'') FROM sessions WHERE 1=1";
    if (!identity.empty()) sql += " AND identity=?", binds.push_back(identity);
    if (!target.empty()) sql += " AND target=?", binds.push_back(target);
    sql += " ORDER BY started_at DESC LIMIT " + std::to_string(limit);
  } else if (a[0] == "commands") {
    sql = "SELECT session_id, at, kind, decision, IFNULL(exit_status,''), IFNULL(rows,''), text FROM commands WHERE 1=1";
    if (!session.empty()) sql += " AND session_id=?", binds.push_back(session);
    if (!grep.empty()) sql += " AND instr(text, ?) > 0", binds.push_back(grep);
    sql += " ORDER BY id DESC LIMIT " + std::to_string(limit);
  } else {
    return usage();
  }
  const bastion::SqliteStmt stmt = bastion::prepare_sqlite(h.get(), sql, err);
  if (!stmt) return std::fprintf(stderr, "bastionctl: %s\n", bastion::display_escape(err).c_str()), 1;
  sqlite3_stmt* st = stmt.get();
  for (std::size_t i = 0; i < binds.size(); ++i)
    sqlite3_bind_text(st, static_cast<int>(i + 1), binds[i].c_str(), -1, SQLITE_TRANSIENT);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    // Key IDs, target names, addresses and command text are user-controlled:
    // escaped, so a value can neither add a row (newline), shift a column
    // (tab) nor drive the auditor's terminal.
    const int n = sqlite3_column_count(st);
    std::string row;
    for (int c = 0; c < n; ++c) {
      const auto* v = static_cast<const char*>(sqlite3_column_blob(st, c));
      if (c) row += '\t';
      if (v) row += bastion::display_escape(std::string_view(v, static_cast<std::size_t>(sqlite3_column_bytes(st, c))));
    }
    row += '\n';
    std::fwrite(row.data(), 1, row.size(), stdout);
  }
  return rc == SQLITE_DONE ? 0 : failed(sqlite3_errmsg(h.get()));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.empty()) return usage();
  const std::string cmd = a[0];
  a.erase(a.begin());
  if (cmd == "config" && a.size() == 2 && a[0] == "check") {
    std::string err;
    const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
    auto cfg = bastion::load_config(a[1], err, kinds);
    if (!cfg) {
      std::fprintf(stderr, "%s\n", bastion::display_escape_multiline(err).c_str());
      return 1;
    }
    std::printf("%s: OK\n", a[1].c_str());
    return 0;
  }
  if (cmd == "recording") return cmd_recording(a);
  if (cmd == "policy") return bastion::ctl_policy(a);
  if (cmd == "audit") return cmd_audit(a);
  if (cmd == "ca") return bastion::ctl_ca(a);
  if (cmd == "cert") return bastion::ctl_cert(a);
  if (cmd == "approvals") return bastion::ctl_approvals(a);
  const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
  for (const auto& kind : kinds.all())
    for (const auto& c : kind->ctl_commands())
      if (cmd == c.name) return c.run(a);
  return usage();
}

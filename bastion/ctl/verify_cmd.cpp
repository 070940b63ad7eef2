// bastionctl verify: are the recordings and the audit rows what the bastion
// wrote? Recomputes each recording's hash chain against its signed digest
// (or last signed checkpoint) and the audit chain against its signed
// anchors and the current rows. Exit 0 only when everything verifies.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_signer.h"
#include "audit/audit_source.h"
#include "audit/audit_store.h"
#include "audit/chain_verifier.h"
#include "audit/policy_signature.h"
#include "audit/recording_verifier.h"
#include "common/display_escape.h"
#include "common/file_util.h"
#include "common/time_util.h"
#include "config/config.h"
#include "ctl/commands.h"
#include "recordings/stored_recording.h"
#include "targets/target_kind.h"

namespace bastion {
namespace {

constexpr const char* kRecordingColumns =
    "SELECT id, session_id, channel, path, state, events, bytes, COALESCE(digest,''), COALESCE(tail_digest,''), "
    "COALESCE(signature,''), cp_events, COALESCE(cp_bytes,0), COALESCE(cp_digest,''), COALESCE(cp_signature,''), "
    "COALESCE(pruned_at,''), COALESCE(pruned_by,'') FROM recordings";

uint64_t ucol(const AuditRows& st, int c) { return static_cast<uint64_t>(st.integer(c)); }

RecordingRecord read_record(const AuditRows& st) {
  RecordingRecord r;
  r.id = st.integer(0);
  r.session_id = st.text(1);
  r.channel = static_cast<int>(st.integer(2));
  r.path = st.text(3);
  r.state = st.text(4);
  r.final_seal = {.events = ucol(st, 5), .bytes = ucol(st, 6), .digest = st.text(7), .tail = st.text(8),
                  .signature = st.text(9), .at = ""};
  if (st.maybe(10))
    r.checkpoints.push_back(RecordingSeal{.events = ucol(st, 10), .bytes = ucol(st, 11), .digest = st.text(12),
                                          .tail = "", .signature = st.text(13), .at = ""});
  r.pruned_at = st.text(14);
  r.pruned_by = st.text(15);
  return r;
}

// Every kept checkpoint of the recording (chained rows), by events. The
// row's cp_* columns (not chained) must repeat the latest of them: an
// earlier checkpoint copied there, or later ones deleted, would let an
// interrupted recording be cut back (the deletion the chain reports).
// Rows of one events count keep their insertion order (the stable sort).
bool read_checkpoints(AuditSource& db, RecordingRecord& r, std::string& error) {
  const auto st = db.rows(std::string("SELECT events, bytes, digest, signature FROM recording_checkpoints "
                                      "WHERE recording_id=? ORDER BY events, ") + db.insertion_order(),
                          {r.id}, error);
  std::vector<RecordingSeal> kept;
  while (st->next())
    kept.push_back({.events = ucol(*st, 0), .bytes = ucol(*st, 1), .digest = st->text(2), .tail = "",
                    .signature = st->text(3), .at = ""});
  if (!st->done(error)) return false;
  std::stable_sort(kept.begin(), kept.end(), [](const RecordingSeal& a, const RecordingSeal& b) { return a.events < b.events; });
  if (!r.checkpoints.empty()) {
    const RecordingSeal& row = r.checkpoints.front();
    if (kept.empty() || kept.back().events != row.events || kept.back().digest != row.digest ||
        kept.back().signature != row.signature)
      return error = "its row's checkpoint (event " + std::to_string(row.events) +
                     ") is not its latest chained checkpoint (" +
                     (kept.empty() ? std::string("none kept") : "event " + std::to_string(kept.back().events)) + ")",
             false;
  }
  r.checkpoints = std::move(kept);
  return true;
}

// Scans the file a chunk at a time (recordings run to hundreds of MiB);
// nullopt when it does not exist, `error` when it cannot be read.
// Where recordings shipped off the host are read from (verify --config).
struct RemoteRecordings {
  AuditSource* db = nullptr;
  const Config* cfg = nullptr;
};

// A recording no longer on local disk, streamed from the recordings_store
// through the same scanner: nothing is trusted for having made the trip.
std::optional<recorder::ChainScan> scan_stored(const RecordingRecord& r, const RemoteRecordings& remote,
                                               std::string& error) {
  if (!remote.cfg || !remote.db) return std::nullopt;
  const auto where = stored_recording(*remote.db, remote.cfg->recordings_store, remote.cfg->recordings_dir(), r.path, error);
  if (!where) {
    if (!error.empty()) error = "recording location: " + error;
    return std::nullopt;
  }
  recorder::ChainScanner scanner(recording_points(r));
  // The cap: what the writer could have written, and a little more (a
  // bigger object is not this recording).
  if (!fetch_stored_recording(remote.cfg->recordings_store, *where, remote.cfg->limits.recording_max_bytes + (1u << 20),
                              [&](std::string_view d) { scanner.feed(d); }, error)) {
    error = "cannot read " + where->url + ": " + error;
    return std::nullopt;
  }
  return scanner.finish();
}

std::optional<recorder::ChainScan> scan_recording(const RecordingRecord& r, const RemoteRecordings& remote,
                                                  std::string& error) {
  if (::access(r.path.c_str(), F_OK) != 0) return scan_stored(r, remote, error);
  struct stat st{};
  std::string why;
  const int fd = open_regular_file(r.path, st, why);
  if (fd < 0) return error = "cannot read " + r.path + ": " + why, std::nullopt;
  recorder::ChainScanner scanner(recording_points(r));
  std::string buf(1 << 20, '\0');
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) scanner.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) return error = "cannot read " + r.path + ": " + std::strerror(read_errno), std::nullopt;
  return scanner.finish();
}

// The session's ended_at ("" when it has none or cannot be read).
std::string session_ended_at(AuditSource& db, const std::string& session) {
  std::string error;
  const auto st = db.rows("SELECT COALESCE(ended_at,'') FROM sessions WHERE id=?", {session}, error);
  return st->next() ? st->text(0) : "";
}

// No recording at all, and rightly: the session's channels ran on a target
// with recording = "off", which its commands rows (chained: the audit chain
// check below covers them) say. A row naming a recording, or one recorded
// in any way, means a recording belongs in the store.
bool unrecorded_by_config(AuditSource& db, const std::string& session) {
  std::string error;
  const auto st = db.rows(
      "SELECT COUNT(CASE WHEN recording_state=? THEN 1 END), "
      "COUNT(CASE WHEN COALESCE(recording,'')<>'' OR COALESCE(recording_state,'') IN ('complete','capped','failed') "
      "THEN 1 END) FROM commands WHERE session_id=?",
      {std::string(kRecordingOffByConfig), session}, error);
  if (!st->next()) return false;
  return st->integer(0) > 0 && st->integer(1) == 0;
}

int usage() {
  std::fprintf(stderr, "usage: bastionctl verify (--config FILE | --db FILE) [--key PUBFILE] [SESSION_ID | --all] [--json]\n"
               "       [--expect-head SEQ:HASH]\n");
  return 2;
}

}  // namespace

int ctl_verify(const std::vector<std::string>& a) {
  std::string config_file, db, key_file, session;
  bool all = false, json = false;
  std::optional<ChainHead> expect_head;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "--expect-head" && i + 1 < a.size()) {
      // The head bastiond logged (or an earlier verify printed): a tail cut off the chain.
      expect_head = parse_chain_head(a[++i]);
      if (!expect_head)
        return std::fprintf(stderr, "bastionctl verify: --expect-head: expected SEQ:HASH (64 hex digits), got %s\n",
                            display_escape(a[i]).c_str()),
               2;
      continue;
    }
    if ((a[i] == "--config" || a[i] == "--db" || a[i] == "--key") && i + 1 < a.size()) {
      (a[i] == "--config" ? config_file : a[i] == "--db" ? db : key_file) = a[i + 1];
      ++i;
    } else if (a[i] == "--all") all = true;
    else if (a[i] == "--json") json = true;
    else if (!a[i].starts_with("-") && session.empty()) session = a[i];
    else return usage();
  }
  if (config_file.empty() == db.empty() || (all && !session.empty())) return usage();
  std::string err, pinned;
  bool key_from_config = false;
  std::optional<int64_t> retention;  // known only from the config
  std::shared_ptr<const Config> cfg;
  if (!config_file.empty()) {
    const TargetKinds kinds = builtin_target_kinds();
    cfg = load_config(config_file, err, kinds, false);
    if (!cfg) return std::fprintf(stderr, "%s\n", display_escape_multiline(err).c_str()), 1;
    db = cfg->audit_store();
    if (key_file.empty()) key_file = audit_public_key_path(cfg->audit_signing_key), key_from_config = true;
    pinned = cfg->audit_key_fingerprint;
    retention = cfg->retention;
  }
  if (key_file.empty())
    return std::fprintf(stderr, "bastionctl verify: no public key: give --key PUBFILE (or --config)\n"), 2;
  // The key comes from the auditor's side, never from the store being
  // checked; the .pub beside the configured key sits in DATA_DIR, so it
  // counts only when it is the one the config pins.
  bool unpinned = false;
  const auto key = key_from_config ? load_pinned_public_key(key_file, pinned, unpinned, err)
                                   : AuditVerifier::from_pem_file(key_file, err);
  if (!key) {
    if (json)
      std::printf("%s\n", nlohmann::json{{"ok", false}, {"key", {{"error", err}}}}
                              .dump(2, ' ', true, nlohmann::json::error_handler_t::replace)
                              .c_str());
    else
      std::printf("key: %s\nverify: FAILED\n", display_escape(err).c_str());
    return 1;
  }
  // The store the config names (SQLite or the shared PostgreSQL store),
  // read-only, through the same readers either way.
  const auto h = open_audit_source(db, cfg ? cfg->store_password_file : std::string(), err);
  if (!h) return std::fprintf(stderr, "bastionctl verify: %s: %s\n", display_escape(db).c_str(), display_escape(err).c_str()), 1;
  // One snapshot for the whole check: bastiond may write while it runs, and
  // a row and its checkpoints must be read as of the same moment.
  if (!h->begin_snapshot(err))
    return std::fprintf(stderr, "bastionctl verify: %s: %s\n", display_escape(db).c_str(), display_escape(err).c_str()), 1;

  bool ok = true;
  nlohmann::json out = {{"recordings", nlohmann::json::array()}};
  std::vector<std::string> lines;
  const std::string sql = std::string(kRecordingColumns) + (session.empty() ? "" : " WHERE session_id=?") + " ORDER BY id";
  std::vector<AuditParam> params;
  if (!session.empty()) params.emplace_back(session);
  const auto st = h->rows(sql, params, err);
  int count = 0;
  while (st->next()) {
    ++count;
    RecordingRecord r = read_record(*st);
    std::string read_error;
    if (r.state != "pruned" && !read_checkpoints(*h, r, read_error)) read_error = "checkpoints: " + read_error;
    const auto scan = r.state == "pruned" || !read_error.empty() ? std::nullopt : scan_recording(r, {h.get(), cfg.get()}, read_error);
    RecordingVerdict v =
        read_error.empty() ? verify_recording(r, scan ? &*scan : nullptr, *key) : RecordingVerdict{false, read_error};
    // A pruned row is only as good as its prune: a row marked pruned before
    // the retention ended hides a recording that should still be there.
    if (read_error.empty() && r.state == "pruned")
      v = judge_prune(r, session_ended_at(*h, r.session_id), retention, unix_now());
    ok = ok && v.ok;
    out["recordings"].push_back({{"id", r.id}, {"session", r.session_id}, {"channel", r.channel}, {"path", r.path},
                                 {"state", r.state}, {"ok", v.ok}, {"result", v.what}});
    lines.push_back("recording " + r.session_id + " channel " + std::to_string(r.channel) + " (" + r.path + "): " + v.what);
  }
  if (!st->done(err)) return std::fprintf(stderr, "bastionctl verify: %s\n", display_escape(err).c_str()), 1;
  if (!session.empty() && count == 0 && unrecorded_by_config(*h, session)) {
    lines.push_back(std::string("session ") + session + ": not recorded: recording " + kRecordingOffByConfig);
    out["recordings"].push_back({{"session", session}, {"ok", true},
                                 {"result", std::string("not recorded: recording ") + kRecordingOffByConfig}});
  } else if (!session.empty() && count == 0) {
    ok = false;
    lines.push_back("session " + session + ": no recordings in the store");
    out["recordings"].push_back({{"session", session}, {"ok", false}, {"result", "no recordings in the store"}});
  }
  // The audit chain is always checked whole: a row of any session may have been touched.
  const ChainReport chain = verify_audit_chain(*h, *key, expect_head);
  ok = ok && chain.problems.empty();
  nlohmann::json foreign = nlohmann::json::array();
  for (const auto& f : chain.foreign)
    foreign.push_back({{"seq", f.seq}, {"table", f.table}, {"key", f.key}, {"writer", f.writer}, {"ok", f.ok}});
  out["audit"] = {{"entries", chain.entries}, {"signed_upto", chain.signed_upto}, {"signed_hash", chain.signed_hash},
                  {"signed_at", chain.signed_at}, {"ok", chain.problems.empty()},
                  {"problems", chain.problems}, {"notes", chain.notes}, {"foreign", foreign}};
  out["ok"] = ok;
  if (chain.problems.empty())
    lines.push_back("audit chain: OK (" + std::to_string(chain.entries) + " entries, signed up to entry " +
                    std::to_string(chain.signed_upto) +
                    (chain.signed_at.empty() ? "" : " at " + chain.signed_at + ", head " + chain.signed_hash) + ")");
  for (const auto& p : chain.problems) lines.push_back("audit: " + p);
  for (const auto& note : chain.notes) lines.push_back("audit: NOTE: " + note);
  // Stored policies: each version and activation signed (by a key the
  // configuration trusts, when it names any), whoever wrote the row.
  const bool by_config = cfg && !cfg->policy_signers.empty();
  const PolicySignatureReport pol = verify_policy_signatures(*h, by_config ? &cfg->policy_signers : nullptr);
  ok = ok && pol.problems.empty();
  out["policies"] = {{"rows", pol.rows}, {"ok", pol.problems.empty()}, {"problems", pol.problems},
                     {"signers", pol.signers}, {"signers_checked", by_config}};
  for (const auto& p : pol.problems) lines.push_back("audit: policy store: " + p);
  if (pol.rows > 0 && pol.problems.empty()) {
    std::string who;
    for (const auto& f : pol.signers) who += (who.empty() ? "" : ", ") + f;
    lines.push_back("policy store: OK (" + std::to_string(pol.rows) + " versions and activations, signed by " + who +
                    (by_config ? ", each named in policy_signers)" : ")"));
    if (!by_config)
      lines.push_back("policy store: NOTE: the signers were not checked against policy_signers (give --config)");
  }
  const std::string key_note = "the audit key is not pinned (audit_key_fingerprint): this check trusts DATA_DIR";
  if (unpinned) lines.push_back("NOTE: " + key_note);
  out["key"] = {{"fingerprint", key->fingerprint()}, {"pinned", !unpinned}};
  if (unpinned) out["key"]["note"] = key_note;
  if (json) {
    std::printf("%s\n", out.dump(2, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    for (const auto& l : lines) std::printf("%s\n", display_escape(l).c_str());
    std::printf("%s\n", ok ? "verify: OK" : "verify: FAILED");
  }
  return ok ? 0 : 1;
}

}  // namespace bastion

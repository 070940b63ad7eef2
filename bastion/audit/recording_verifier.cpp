#include "audit/recording_verifier.h"

#include <ctime>
#include <cstdio>
#include <vector>

#include "audit/audit_signer.h"
#include "common/time_util.h"
#include "recorder/recording_chain.h"

namespace bastion {
namespace {

std::string n(uint64_t v) { return std::to_string(v); }

std::string secs(std::optional<double> t) {
  if (!t) return "?";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", *t);
  return b;
}

recorder::ChainState chain_point(const RecordingSeal& s) { return {s.events, s.bytes, s.digest}; }

// Where the file stops matching what was signed: the last checkpoint that
// still matches (event `upto`, 0: none) and the first one that does not
// (`first_bad`, or the final digest: `bad_is_final`). Checkpoints are chain
// heads, so once one fails every later one does.
struct Place {
  uint64_t upto = 0;
  std::optional<double> upto_t = 0.0;
  std::optional<uint64_t> first_bad;  // events of the first checkpoint that no longer matches
  std::optional<double> first_bad_t;
  bool have_checkpoints = false;
};

Place locate(const RecordingRecord& r, const recorder::ChainScan& scan) {
  Place p;
  p.have_checkpoints = !r.checkpoints.empty();
  for (std::size_t i = 0; i < r.checkpoints.size(); ++i) {
    if (!scan.matches[i]) {
      p.first_bad = r.checkpoints[i].events;
      p.first_bad_t = scan.point_times[i];
      break;
    }
    p.upto = r.checkpoints[i].events;
    p.upto_t = scan.point_times[i];
  }
  return p;
}

// " (...)": the checkpoints around the change.
std::string where(const Place& p) {
  if (!p.have_checkpoints) return "";
  if (!p.first_bad)
    return " (after the last signed checkpoint, at event " + n(p.upto) + ", t=" + secs(p.upto_t) + " s)";
  return " (the first signed checkpoint that no longer matches is at event " + n(*p.first_bad) +
         (p.first_bad_t ? ", t=" + secs(p.first_bad_t) + " s" : "") + "; the chain matches up to event " + n(p.upto) +
         ", t=" + secs(p.upto_t) + " s)";
}

// What differs from `want` (the final digest, or an interrupted recording's
// last checkpoint), in words, with where.
std::string mismatch(const recorder::ChainScan& scan, const RecordingSeal& want, bool have_tail, const Place& p,
                     std::optional<double> want_t, const char* says) {
  const uint64_t have = scan.file.events, want_events = want.events;
  const std::string store = std::string(", ") + says + " " + n(want_events);
  if (scan.out_of_order_line)
    return "lines reordered: line " + n(*scan.out_of_order_line) + " is earlier than line " +
           n(*scan.out_of_order_line - 1) + where(p);
  if (scan.partial_bytes && have < want_events)
    return "truncated: file ends in the middle of event " + n(have + 1) + store + where(p);
  const bool same_tail = have_tail && scan.last_line_digest == want.tail;
  if (have < want_events) {
    if (same_tail) return "lines deleted: file has " + n(have) + " events" + store + where(p);
    return "truncated: file ends at event " + n(have) + store + where(p);
  }
  if (have > want_events) {
    if (!have_tail || same_tail) return "lines inserted: file has " + n(have) + " events" + store + where(p);
    return "lines appended: file has " + n(have) + " events" + store + where(p);
  }
  const uint64_t b = p.first_bad.value_or(want_events);
  const std::optional<double> bt = p.first_bad ? p.first_bad_t : want_t;
  return "edited: a line between event " + n(p.upto) + " and event " + n(b) + " (t=" + secs(p.upto_t) + ".." +
         secs(bt) + " s) differs from what was signed (same number of events" +
         (scan.file.bytes == want.bytes ? ", same size" : ", " + n(scan.file.bytes) + " bytes, signed " + n(want.bytes)) +
         ")";
}

// After the last signed checkpoint (event k at time kt) of an interrupted
// recording: accepted when every later line is a timed event, in order, and
// they span at most kInterruptedTailSeconds.
RecordingVerdict interrupted_tail(const recorder::ChainScan& scan, uint64_t k, std::optional<double> kt) {
  const uint64_t later = scan.file.events - k;
  const std::string head = "interrupted: verified up to event " + n(k) + " (t=" + secs(kt) + " s); ";
  const std::string partial = scan.partial_bytes ? " (nor a partial last line)" : "";
  if (later == 0)
    return {true, head + "no later events" + (scan.partial_bytes ? ", only a partial last line" : "")};
  if (scan.out_of_order_line)
    return {false, head + n(later) + " later events unverifiable (line " + n(*scan.out_of_order_line) +
                       " is earlier than the line before it)"};
  if (scan.last_untimed_event > k)
    return {false, head + n(later) + " later events unverifiable (event " + n(scan.last_untimed_event) +
                       " is not a timed event)"};
  const double span = kt && scan.last_time ? *scan.last_time - *kt : 1e9;
  if (!(span <= kInterruptedTailSeconds))  // NaN ("[nan, ...]" lines) fails too
    return {false, head + n(later) + " later events unverifiable (they span " + secs(span) +
                       " s of recording time, more than 2 s)"};
  return {true, head + n(later) + " later events written in the last 2 s before the stop cannot be verified" + partial};
}

}  // namespace

std::vector<recorder::ChainState> recording_points(const RecordingRecord& r) {
  std::vector<recorder::ChainState> points;
  for (const auto& cp : r.checkpoints) points.push_back(chain_point(cp));
  if (r.state == "closed") points.push_back(chain_point(r.final_seal));
  return points;
}

RecordingVerdict verify_recording(const RecordingRecord& r, const std::optional<std::string>& file,
                                  const AuditVerifier& key) {
  if (!file) return verify_recording(r, static_cast<const recorder::ChainScan*>(nullptr), key);
  const recorder::ChainScan scan = recorder::scan_recording_chain(*file, recording_points(r));
  return verify_recording(r, &scan, key);
}

RecordingVerdict verify_recording(const RecordingRecord& r, const recorder::ChainScan* file_scan,
                                  const AuditVerifier& key) {
  if (r.state == "pruned") return {true, "pruned at " + r.pruned_at + " by " + r.pruned_by};
  if (r.state != "closed" && r.state != "open" && r.state != "interrupted")
    return {false, "unknown state \"" + r.state + "\""};
  if (!file_scan) return {false, "missing file: " + r.path};
  const bool closed = r.state == "closed";
  if (closed &&
      !key.verify(recording_seal_text(SealKind::final, r.path, r.session_id, r.channel, r.final_seal), r.final_seal.signature))
    return {false, "bad signature on the final digest (events " + n(r.final_seal.events) + ")"};
  for (const auto& cp : r.checkpoints)
    if (!key.verify(recording_seal_text(SealKind::checkpoint, r.path, r.session_id, r.channel, cp), cp.signature))
      return {false, "bad signature on the checkpoint at event " + n(cp.events)};

  const recorder::ChainScan& scan = *file_scan;
  if (scan.matches.size() != recording_points(r).size() || scan.point_times.size() != scan.matches.size())
    return {false, "internal error: scanned with other points"};
  const Place place = locate(r, scan);

  if (closed) {
    if (scan.matches.back()) {
      if (scan.partial_bytes)
        return {false, "bytes appended: " + n(scan.partial_bytes) + " bytes after the last signed event (" +
                           n(r.final_seal.events) + ")"};
      return {true, "OK (" + n(scan.file.events) + " events, " + n(scan.file.bytes) + " bytes)"};
    }
    return {false, mismatch(scan, r.final_seal, true, place, scan.point_times.back(), "store says")};
  }
  // Open or interrupted: the process died (or is still writing); what the
  // signed checkpoints vouch for is all that can be checked.
  if (r.checkpoints.empty())
    return {false, "interrupted: no signed checkpoint; " + n(scan.file.events) + " events unverifiable"};
  const RecordingSeal& last = r.checkpoints.back();
  if (!scan.matches.back()) {
    if (scan.out_of_order_line || scan.file.events < last.events)
      return {false, "interrupted, and " + mismatch(scan, last, false, place, scan.point_times.back(),
                                                    "the last checkpoint says")};
    return {false, "interrupted, and edited: the file does not match the signed checkpoint at event " +
                       n(*place.first_bad) + " (t=" + secs(place.first_bad_t) + " s); it matches up to event " +
                       n(place.upto) + " (t=" + secs(place.upto_t) +
                       " s): a line between them was edited, inserted or deleted"};
  }
  return interrupted_tail(scan, last.events, scan.point_times.back());
}

namespace {

// "YYYY-MM-DDTHH:MM:SSZ" (iso8601()) or "...SS.mmmZ" (iso8601_now()) to
// Unix milliseconds; nullopt otherwise.
std::optional<int64_t> parse_iso8601_ms(const std::string& s) {
  if (s.size() != 20 && s.size() != 24) return std::nullopt;
  int ms = 0;
  if (s.size() == 24) {
    if (s[19] != '.' || s.find_first_not_of("0123456789", 20) != 23) return std::nullopt;
    ms = std::stoi(s.substr(20, 3));
  }
  if (s.back() != 'Z') return std::nullopt;
  const std::string whole = s.substr(0, 19) + "Z";
  std::tm tm{};
  if (std::sscanf(whole.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const time_t t = timegm(&tm);
  if (iso8601(static_cast<int64_t>(t)) != whole) return std::nullopt;  // 2026-02-31 and the like
  return static_cast<int64_t>(t) * 1000 + ms;
}

}  // namespace

RecordingVerdict judge_prune(const RecordingRecord& r, const std::string& session_ended_at,
                             std::optional<int64_t> retention, int64_t now) {
  const std::string said = "pruned at " + r.pruned_at + " by " + r.pruned_by;
  const auto pruned = parse_iso8601_ms(r.pruned_at);
  const auto ended = parse_iso8601_ms(session_ended_at);
  if (!pruned) return {false, said + ": not a prune time"};
  if (!ended) return {false, said + ", but its session has not ended"};
  if (*pruned > (now + 60) * 1000) return {false, said + ": a prune dated in the future"};
  if (!retention)
    return {true, said + " (NOTE: " + format_duration((*pruned - *ended) / 1000) +
                      " after its session ended; retention not checked without --config)"};
  if (*retention <= 0) return {false, said + ": pruned before its retention ended (no retention is configured)"};
  if (*pruned < *ended + *retention * 1000)
    return {false, said + ": pruned before its retention ended (session ended " + session_ended_at + ", retention " +
                       format_duration(*retention) + ")"};
  return {true, said};
}

}  // namespace bastion

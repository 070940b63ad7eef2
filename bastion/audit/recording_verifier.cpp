#include "audit/recording_verifier.h"

#include <vector>

#include "audit/audit_signer.h"
#include "recorder/recording_chain.h"

namespace bastion {
namespace {

std::string n(uint64_t v) { return std::to_string(v); }

recorder::ChainState chain_point(const RecordingSeal& s) { return {s.events, s.bytes, s.digest}; }

// Where the file stops matching `want` (the final digest, or the checkpoint
// of an interrupted recording), in words. `matched_upto`: the last event a
// signed checkpoint vouches for that still matches (0: none).
std::string mismatch(const recorder::ChainScan& scan, const RecordingSeal& want, bool have_tail,
                     uint64_t matched_upto, const char* says) {
  const uint64_t have = scan.file.events, want_events = want.events;
  const std::string store = std::string(", ") + says + " " + n(want_events);
  const std::string upto = " (the chain matches a signed checkpoint up to event " + n(matched_upto) + ")";
  if (scan.out_of_order_line)
    return "lines reordered: line " + n(*scan.out_of_order_line) + " is earlier than line " +
           n(*scan.out_of_order_line - 1);
  if (scan.partial_bytes && have < want_events)
    return "truncated: file ends in the middle of event " + n(have + 1) + store;
  const bool same_tail = have_tail && scan.last_line_digest == want.tail;
  if (have < want_events) {
    if (same_tail) return "lines deleted: file has " + n(have) + " events" + store + (matched_upto ? upto : "");
    return "truncated: file ends at event " + n(have) + store;
  }
  if (have > want_events) {
    if (!have_tail || same_tail)
      return "lines inserted: file has " + n(have) + " events" + store + (matched_upto ? upto : "");
    return "lines appended: file has " + n(have) + " events" + store;
  }
  return "edited: a line between event " + n(matched_upto) + " and event " + n(want_events) +
         " differs from what was signed (same number of events" +
         (scan.file.bytes == want.bytes ? ", same size" : ", " + n(scan.file.bytes) + " bytes, signed " + n(want.bytes)) +
         ")";
}

}  // namespace

std::vector<recorder::ChainState> recording_points(const RecordingRecord& r) {
  std::vector<recorder::ChainState> points;
  if (r.checkpoint) points.push_back(chain_point(*r.checkpoint));
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
  if (r.checkpoint && !key.verify(recording_seal_text(SealKind::checkpoint, r.path, r.session_id, r.channel, *r.checkpoint),
                                  r.checkpoint->signature))
    return {false, "bad signature on the checkpoint at event " + n(r.checkpoint->events)};

  const recorder::ChainScan& scan = *file_scan;
  if (scan.matches.size() != recording_points(r).size()) return {false, "internal error: scanned with other points"};
  const uint64_t cp_ok = r.checkpoint && scan.matches[0] ? r.checkpoint->events : 0;

  if (closed) {
    if (scan.matches.back()) {
      if (scan.partial_bytes)
        return {false, "bytes appended: " + n(scan.partial_bytes) + " bytes after the last signed event (" +
                           n(r.final_seal.events) + ")"};
      return {true, "OK (" + n(scan.file.events) + " events, " + n(scan.file.bytes) + " bytes)"};
    }
    return {false, mismatch(scan, r.final_seal, true, cp_ok, "store says")};
  }
  // Open or interrupted: the process died (or is still writing); what the
  // last signed checkpoint vouches for is all that can be checked.
  if (!r.checkpoint)
    return {false, "interrupted: no signed checkpoint; " + n(scan.file.events) + " events unverifiable"};
  if (!scan.matches[0]) {
    if (scan.out_of_order_line || scan.file.events < r.checkpoint->events)
      return {false, "interrupted, and " + mismatch(scan, *r.checkpoint, false, 0, "the last checkpoint says")};
    return {false, "interrupted, and edited: the file does not match the signed checkpoint at event " +
                       n(r.checkpoint->events) + " (a line up to it was edited, inserted or deleted)"};
  }
  const uint64_t later = scan.file.events - r.checkpoint->events;
  return {later == 0 && scan.partial_bytes == 0,
          "interrupted: verified up to event " + n(r.checkpoint->events) + "; " + n(later) +
              " later events unverifiable" + (scan.partial_bytes ? " (and a partial last line)" : "")};
}

}  // namespace bastion

#include "audit/audit_seal.h"

#include <nlohmann/json.hpp>

#include "recorder/line_chain.h"

namespace bastion {

std::string recording_seal_text(SealKind kind, const std::string& path, const std::string& session_id, int channel,
                                const RecordingSeal& seal) {
  // nlohmann::json keeps keys sorted; invalid UTF-8 in a path is replaced, never thrown on.
  nlohmann::json j = {{"type", kind == SealKind::final ? "bastion-recording-final" : "bastion-recording-checkpoint"},
                      {"path", path},
                      {"session", session_id},
                      {"channel", channel},
                      {"events", seal.events},
                      {"bytes", seal.bytes},
                      {"digest", seal.digest}};
  if (kind == SealKind::final) j["tail"] = seal.tail;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string anchor_text(int64_t seq, const std::string& hash, const std::string& at, const AnchorLinks& links) {
  const nlohmann::json j = {{"type", "bastion-audit-anchor"}, {"seq", seq},
                            {"hash", hash}, {"at", at},
                            {"foreign", links.foreign}, {"opened_head", links.opened_head},
                            {"prev_seq", links.prev_seq}, {"prev_sig", links.prev_sig_hash},
                            {"clean_close", links.clean_close}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string anchor_sig_hash(const std::string& signature) {
  return signature.empty() ? std::string() : recorder::sha256_hex(signature);
}

}  // namespace bastion

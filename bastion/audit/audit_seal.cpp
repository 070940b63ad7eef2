#include "audit/audit_seal.h"

#include <nlohmann/json.hpp>

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

std::string anchor_text(int64_t seq, const std::string& hash, const std::string& at, const std::string& foreign,
                        int64_t opened_head) {
  const nlohmann::json j = {{"type", "bastion-audit-anchor"}, {"seq", seq}, {"hash", hash}, {"at", at},
                            {"foreign", foreign}, {"opened_head", opened_head}};
  return j.dump();
}

}  // namespace bastion

// The exact texts the audit key signs. Canonical JSON (keys sorted, no
// spaces), so the signer and every verifier build the same bytes.
#pragma once
#include <cstdint>
#include <string>

namespace bastion {

// What a recording's row says about its file at one point: a checkpoint
// while it is written, or the final digest at close.
struct RecordingSeal {
  uint64_t events = 0;
  uint64_t bytes = 0;
  std::string digest;     // chain head, hex
  std::string tail;       // final only: SHA-256 of the last line, hex
  std::string signature;  // base64 Ed25519 over recording_seal_text
  std::string at;
};

enum class SealKind { checkpoint, final };

std::string recording_seal_text(SealKind kind, const std::string& path, const std::string& session_id, int channel,
                                const RecordingSeal& seal);

// An anchor signs the audit chain's head, the seqs since the previous anchor
// that the signing bastiond did not append ("[[from,to],...]"), and the head
// when that bastiond opened the store (entries up to it predate it).
std::string anchor_text(int64_t seq, const std::string& hash, const std::string& at, const std::string& foreign,
                        int64_t opened_head);

}  // namespace bastion

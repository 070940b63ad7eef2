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

// What an anchor signs besides the chain's head.
struct AnchorLinks {
  std::string foreign;      // seqs since the previous anchor the signer did not append, "[[from,to],...]"
  int64_t opened_head = 0;  // the head when the signing bastiond opened the store
  // The anchor before this one (by id): its seq and the SHA-256 hex of its
  // signature; 0 and "" for the first. Anchors are chained, so removing or
  // reordering one breaks the signature of the next.
  int64_t prev_seq = 0;
  std::string prev_sig_hash;
  bool clean_close = false;  // written by a bastiond closing the store normally
};

// An anchor signs the audit chain's head (seq, hash), when, and its links.
std::string anchor_text(int64_t seq, const std::string& hash, const std::string& at, const AnchorLinks& links);

// The prev_sig_hash of the anchor after one signed `signature` ("" for none).
std::string anchor_sig_hash(const std::string& signature);

}  // namespace bastion

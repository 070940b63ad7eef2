// Drops, from recorded output about to be written to an auditor's terminal,
// every escape sequence that makes a terminal answer (the answer would be
// typed into whatever reads that terminal next: the shell prompt). Everything
// else passes byte for byte, in order, across any chunk boundaries.
//
// Dropped: ENQ (0x05, answerback); DECID (ESC Z, C1 0x9A); CSI DSR (`n`, no
// prefix or `?`), DA (`c`, no prefix, `>` or `=`), DECRQM (`$p`), XTVERSION
// (`>q`), window reports (`t` 11, 13-16, 18-21), DECREQTPARM (`x`),
// DECRQPKFM (`+x`), XTSMGRAPHICS (`?S`), XTQMODKEYS (`?m`), kitty keyboard
// (`?u`), DECRQTSR/DECRQUPSS (`$u`, `&u`), DECRQPSR (`$w`), DECRQCRA (`*y`),
// DECRQLP (`'|`), DECRQDE (`"v`); DCS DECRQSS (`$q`), XTGETTCAP (`+q`), tmux
// passthrough (`tmux;`); OSC with a field that is or ends in `?` (colour and
// clipboard queries: 4, 5, 10-19, kitty 21...); every OSC 52, 5522 and 1337
// (clipboard writes, iTerm2 files: a replay must not act outside the screen);
// APC `G` (kitty graphics, answered). Introducers are recognised as 7-bit
// (ESC [), as UTF-8 encoded C1 (C2 9B) and as stray 8-bit C1 bytes.
//
// Bounded: a sequence is held until it can be judged, never more than
// kMaxHeld bytes; one that grows past that is dropped whole (no terminal
// query is that long). A sequence known harmless early (OSC titles, DCS
// other than the above, SOS/PM/APC other than G) streams through. A held
// sequence that is cut off (CAN, SUB, ESC, a C1, the end of the recording)
// is dropped, so a partial query is never written; a string already written
// and cut short that way is closed with ST, so nothing after it can complete it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace recorder {

class TerminalQueryFilter {
 public:
  static constexpr std::size_t kMaxHeld = 4096;

  // Appends to `out` what may be written now.
  void feed(std::string_view bytes, std::string& out);
  // End of the stream: an unfinished held sequence is dropped.
  void finish(std::string& out);
  // Bytes held back now (at most kMaxHeld + 1).
  std::size_t held() const { return held_.size() + (pending_c2_ ? 1 : 0); }

 private:
  enum class State : uint8_t { ground, esc, csi, dcs_head, osc, dcs_body, str, string_esc };
  enum class Mode : uint8_t { hold, pass, discard };
  enum class StrKind : uint8_t { osc, dcs, tmux, apc, other };
  // One decoded unit: an ASCII byte, a C1 control (0x80-0x9F, from C2 xx or
  // a stray byte) or any other byte of a character.
  enum class Kind : uint8_t { ascii, c1, other };

  void token(Kind kind, unsigned char c, std::string_view raw, std::string& out);
  void ground(Kind kind, unsigned char c, std::string_view raw, std::string& out);
  void start(State s, std::string_view raw);
  void keep(std::string_view raw, std::string& out);  // by mode: hold, emit or drop
  void end_sequence(bool query, std::string_view tail, std::string& out);
  void body(unsigned char c, std::string_view raw, std::string& out);
  void escape(Kind kind, unsigned char c, std::string_view raw, std::string& out);
  void abort_sequence();
  void enter_body(StrKind kind, std::string& out);
  void end_string(std::string_view terminator, std::string& out);  // judges a finished string
  bool csi_is_query(unsigned char final) const;
  bool osc_is_query() const;

  State state_ = State::ground;
  Mode mode_ = Mode::hold;
  StrKind str_ = StrKind::other;
  std::string held_;      // the current sequence's bytes not yet written (mode hold)
  std::string payload_;   // OSC payload / first body bytes of a held DCS or APC
  char prefix_ = 0;       // CSI private prefix: < = > ?
  std::string params_;    // CSI/DCS parameter bytes
  std::string inter_;     // intermediate bytes
  bool ps_done_ = false;     // the OSC number has been read
  bool pending_c2_ = false;  // a 0xC2 that may start a C1 code point
  int utf8_need_ = 0;        // continuation bytes still expected
};

}  // namespace recorder

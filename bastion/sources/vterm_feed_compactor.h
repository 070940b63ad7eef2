// Decides which of a target's output bytes a libvterm 0.1.4 screen model must
// parse. libvterm costs about 40 ns a byte, so `cat` of a large file would
// crawl if every byte were fed; yet only the last screenful of a long run of
// plain text can still be seen. The compactor passes everything through,
// except that it drops the part of a long plain run that scrolls away.
//
// Guarantee: feeding every segment this class hands to its sink, each with its
// own vterm_input_write(), in order, to a VTerm (UTF-8 mode, freshly reset,
// the same size) gives the same screen as feeding the input the same way,
// with the safety changes listed below made:
// every cell's characters, width, attributes and colours, the cursor
// position and the pen after the last byte; in the second cell of a wide
// character only its -1 marker (libvterm leaves stale code points after it,
// from whatever that memory held before). What differs: fewer rows are
// pushed to the scrollback (sb_pushline), damage/movecursor/bell callbacks
// fire less, and OSC titles inside dropped text are never seen (none are:
// an OSC is not plain).
//
// "Plain" is: printable UTF-8 (no C1 controls, no combining mark as the first
// character after a control or a chunk boundary), CR, LF, TAB, BS, BEL, SGR
// (ESC [ ... m) and EL (ESC [ K, 0/1/2). A plain run longer than
// rows*cols*4 bytes is cut at a CR that is followed by at least 2*rows-1 rows
// of output (LFs, plus the wraps of ASCII lines when autowrap is on), one of
// which is drawn after the last such CR; the SGRs of the dropped part are
// replayed (from the last full reset on). Everything else, and any run while
// the terminal is in a mode that changes how plain text lands (a scroll
// region or left/right margins, insert mode, double-width lines, a charset
// other than UTF-8/ASCII, a pending single shift), is passed through whole.
//
// Safety: the output is what libvterm 0.1.4 can parse without corrupting
// memory or hanging (each case below crashed or hung it in the tests or the
// fuzz target, or moved its cursor off the screen):
//   * a CSI with 17 or more parameters: libvterm stores them past its
//     16-entry array, over its callback pointer. The 16th separator becomes
//     CAN (ending the sequence) and the rest is dropped; its C0 controls
//     still pass, as libvterm would run them.
//   * a CSI parameter of more than 18 digits overflows libvterm's long
//     (undefined behaviour): the sequence is ended with CAN the same way.
//   * REP (CSI Pn b): writes past the row when the last glyph is wide, and
//     loops forever when it is a lone combining mark. Its final byte
//     becomes CAN, so it does nothing.
//   * U+0080-U+009F encoded in UTF-8: width -1, so the cursor goes to column
//     -1 and the next glyph is written before the row. Passed as U+00BF.
//   * a UTF-8 character cut by a chunk end is held back and written with the
//     next chunk (libvterm would decode its two halves with different
//     decoders: garbage, and a half left pending). One cut off by a control,
//     an escape or DEL is dropped: libvterm keeps it pending and later
//     writes one code point past its on-stack array.
//   * chunks over kMaxChunk bytes are taken as several chunks, since libvterm
//     puts a code point array as long as each write on the stack.
// These are the only changes to what libvterm sees besides the cuts.
// Not fixable here: libvterm 0.1.4 also writes a wide character past a
// 1-column row, so the screen model must refuse terminals under 4 columns
// (a double-width line halves the row).
//
// Contract with the caller (the pty screen model):
//   * every byte of the target's output goes through push(), even while a
//     line is open; nothing reaches the VTerm any other way;
//   * push() may hold back the tail of a plain run; call flush() before
//     reading the screen (cursor, cells). An incomplete UTF-8 character
//     stays held even then (it draws nothing yet);
//   * set_line_open(true) while a line is being typed, so that no plain run
//     is held or cut then (the tracker needs every scrolled row); the safety
//     changes still apply;
//   * resize() before vterm_set_size() (it flushes first, at the old size).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

class VtermFeedCompactor {
 public:
  using Sink = std::function<void(std::string_view)>;
  static constexpr std::size_t kMaxChunk = 64 * 1024;

  VtermFeedCompactor(int rows, int cols);

  void push(std::string_view chunk, const Sink& feed);
  void flush(const Sink& feed);
  void resize(int rows, int cols, const Sink& feed);
  void set_line_open(bool open, const Sink& feed);

  // Input bytes libvterm never saw (dropped minus replayed SGR bytes).
  std::uint64_t skipped_bytes() const { return dropped_ - replayed_; }
  // Sequences and characters changed for libvterm's safety (see above).
  std::uint64_t defused_sequences() const { return defused_; }
  std::size_t held_bytes() const { return held_.size(); }

 private:
  enum class Parse : std::uint8_t { normal, esc, csi_leader, csi_args, csi_intermed, string, esc_in_string };
  struct Utf8 {  // mirrors one of libvterm's UTF8DecoderData
    int remaining = 0;
    int total = 0;
    std::uint32_t cp = 0;
  };
  struct CutPoint {  // a CR in the held run
    std::uint64_t pos;
    std::uint64_t rows_before;
  };

  void push_one(std::string_view chunk);
  void scan(const unsigned char* p, std::size_t n);
  std::size_t fast_ascii(const unsigned char* p, std::size_t n);
  void step(unsigned char c);
  void esc_byte(unsigned char c);
  void csi_args_byte(unsigned char c);
  void csi_intermed_byte(unsigned char c);
  void defuse();
  void defuse_step(unsigned char c);
  void control(unsigned char c);
  void plain_control(unsigned char c);
  void text_byte(unsigned char c);
  void decode_byte(unsigned char c);
  void codepoint(std::uint32_t cp, bool error);
  void dispatch_escape(unsigned char final);
  void dispatch_csi(unsigned char final);
  void reset_terminal();

  void route(unsigned char c);
  void route_span(const unsigned char* p, std::size_t n);
  bool may_start_run() const;
  void start_run();
  void not_plain();
  void emit_all();
  void try_cut();
  void end_stretch();

  bool compactable() const;
  bool decoders_clean() const;
  bool pending_char() const;
  std::string unwind_partial();

  int rows_;
  int cols_;
  std::size_t threshold_ = 0;
  std::size_t cap_ = 0;
  bool line_open_ = false;
  const Sink* feed_ = nullptr;
  std::string out_;    // this push's output, written as one segment
  std::string carry_;  // a character cut by the end of the last push

  // libvterm's parser, mirrored.
  Parse parse_ = Parse::normal;
  int leader_len_ = 0;
  unsigned char leader_ = 0;
  int intermed_len_ = 0;
  unsigned char intermed_ = 0;
  int argi_ = 0;
  int arg_digits_ = 0;
  std::array<std::uint64_t, 16> args_{};
  bool seq_plain_ = false;  // the sequence being parsed can still be SGR or EL
  bool defusing_ = false;
  bool defuse_intermed_ = false;

  // libvterm's text decoding: slots G0..G3 and its separate UTF-8 decoder.
  std::array<Utf8, 5> dec_{};
  std::array<char, 4> g_{};  // 'u' (UTF-8), '0', 'A', 'B'
  int gl_ = 0;
  int gsingle_ = 0;
  bool in_call_ = false;  // inside one on_text() call
  int call_slot_ = 0;
  bool call_table_ = false;
  bool call_gr_ = false;
  bool call_single_ = false;
  std::size_t call_cps_ = 0;
  std::size_t since_idle_ = 0;  // bytes of this call since its decoder was last idle
  std::size_t cps_at_idle_ = 0;

  // Layout state that decides whether plain text can be compacted.
  int top_ = 0, bottom_ = -1, left_ = 0, right_ = -1;
  bool lrmm_ = false, autowrap_ = true, insert_ = false, dwl_dirty_ = false;

  // The plain run being held.
  bool in_run_ = false;
  std::string held_;
  std::uint64_t base_ = 0;       // run offset of held_[0]
  std::uint64_t push_start_ = 0;  // run offset where this push's bytes begin
  bool in_push_ = false;
  std::vector<std::uint64_t> marks_;  // run offsets where a later push began
  std::vector<CutPoint> cuts_;
  std::string summary_;  // SGRs of the dropped part, replayed before held_
  bool skipped_ = false;
  std::uint64_t rows_seen_ = 0;  // LFs and counted wraps since the run began
  bool col0_ = false;            // the cursor is known to be at column 0, no pending wrap
  std::uint64_t stretch_ = 0;    // ASCII glyphs drawn since col0_ became true
  bool have_glyph_ = false;
  std::uint64_t last_glyph_ = 0;

  std::uint64_t dropped_ = 0;
  std::uint64_t replayed_ = 0;
  std::uint64_t defused_ = 0;
};

}  // namespace bastion

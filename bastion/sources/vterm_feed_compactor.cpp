// Why a cut is exact (see the header for the rules): let T be the held run
// from a CR c on, and q a CR in T with at least rows-1 rows counted between
// c and q, at least rows counted after q, and a glyph drawn after q. Plain
// text only moves the cursor down or along its row and only touches the
// cursor's row. Both feeds (all bytes, or replayed SGRs + T) start T at
// column 0 with no pending wrap, the same pen and clean UTF-8 decoders; after
// rows-1 row advances both cursors are on the bottom row, the CR q puts them
// in the same state, and from there they run the same bytes the same way.
// The rows counted after q scroll every row that existed at q off the
// screen, so every row left was drawn after q, identically; the glyph after q
// leaves libvterm's combining/REP state (combine_pos) the same too. Rows are
// counted low: LFs, and the wraps of ASCII-only stretches that start at a
// known column 0, which both feeds wrap alike.
//
// The parser and decoder below mirror libvterm 0.1.4's (src/parser.c,
// src/encoding.c, state.c's on_text/on_escape/on_csi), including its quirks:
// C0 controls run inside CSI and strings, SM/RM only look at their first
// parameter, DECSTR is not recognised, each of G0-G3 has its own UTF-8
// decoder besides the one for bytes >= 0x80, and an on_text() call, which
// decides combining and decoder choice, ends at every write.
#include "sources/vterm_feed_compactor.h"

#include <algorithm>

#include "sources/vterm_combining.h"

namespace bastion {
namespace {

constexpr std::uint64_t kArgMissing = 0x7FFFFFFF;  // libvterm's CSI_ARG_MISSING
constexpr std::uint64_t kArgMask = 0x7FFFFFFF;     // CSI_ARG_MASK
constexpr std::uint64_t kArgMore = 0x80000000;     // CSI_ARG_FLAG_MORE
constexpr int kMaxArgs = 16;                       // CSI_ARGS_MAX
constexpr int kMaxDigits = 18;                     // fits libvterm's long without overflow
constexpr int kMaxStored = 15;                     // INTERMED_MAX-1, CSI_LEADER_MAX-1
constexpr std::uint32_t kInvalid = 0xFFFD;
constexpr std::size_t kMaxSummary = 4096;

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

}  // namespace

VtermFeedCompactor::VtermFeedCompactor(int rows, int cols) : rows_(rows), cols_(cols) {
  g_.fill('u');
  threshold_ = static_cast<std::size_t>(std::max(rows, 1)) * static_cast<std::size_t>(std::max(cols, 1)) * 4;
  cap_ = std::max<std::size_t>(threshold_ * 8, 64 * 1024);
}

// ---- public ---------------------------------------------------------------

void VtermFeedCompactor::push(std::string_view chunk, const Sink& feed) {
  feed_ = &feed;
  do {
    const std::string_view piece = chunk.substr(0, kMaxChunk);
    push_one(piece);
    chunk.remove_prefix(piece.size());
  } while (!chunk.empty());
  feed_ = nullptr;
}

void VtermFeedCompactor::flush(const Sink& feed) {
  feed_ = &feed;
  emit_all();
  feed_ = nullptr;
}

void VtermFeedCompactor::resize(int rows, int cols, const Sink& feed) {
  flush(feed);
  rows_ = rows;
  cols_ = cols;
  // libvterm's on_resize: explicit margins are clamped to the new size.
  if (bottom_ > -1) bottom_ = std::min(bottom_, rows_);
  if (right_ > -1) right_ = std::min(right_, cols_);
  threshold_ = static_cast<std::size_t>(std::max(rows, 1)) * static_cast<std::size_t>(std::max(cols, 1)) * 4;
  cap_ = std::max<std::size_t>(threshold_ * 8, 64 * 1024);
}

void VtermFeedCompactor::set_line_open(bool open, const Sink& feed) {
  // Callers say it before every chunk: only a change flushes (else every
  // chunk would be fed whole and the fast path never taken).
  if (open == line_open_) return;
  flush(feed);
  line_open_ = open;
}

// ---- scanning ---------------------------------------------------------------

void VtermFeedCompactor::push_one(std::string_view chunk) {
  in_push_ = true;
  out_.clear();
  if (in_run_) {
    push_start_ = base_ + held_.size();
    marks_.push_back(push_start_);
  }
  const std::string carried = std::move(carry_);
  carry_.clear();
  scan(reinterpret_cast<const unsigned char*>(carried.data()), carried.size());
  scan(reinterpret_cast<const unsigned char*>(chunk.data()), chunk.size());
  // A character cut by the end of this chunk waits for the rest: libvterm
  // would decode its second half with another decoder (garbage) and keep the
  // first half pending. It draws nothing before it is complete.
  if (pending_char()) carry_ = unwind_partial();
  in_call_ = false;  // a write boundary ends libvterm's on_text() call
  if (in_run_) {
    try_cut();
    if (in_run_ && held_.size() > cap_) emit_all();
  }
  in_push_ = false;
  if (!out_.empty()) (*feed_)(out_);
}

void VtermFeedCompactor::scan(const unsigned char* p, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    if (defusing_) {
      defuse_step(p[i++]);
      continue;
    }
    const std::size_t k = fast_ascii(p + i, n - i);
    if (k) {
      i += k;
      continue;
    }
    step(p[i++]);
  }
}

// Printable ASCII in a text call whose decoder is idle: each byte is one
// plain glyph, which is what most output is.
std::size_t VtermFeedCompactor::fast_ascii(const unsigned char* p, std::size_t n) {
  if (parse_ != Parse::normal || p[0] < 0x20 || p[0] >= 0x7f) return 0;
  if (in_call_) {
    if (call_single_ || (call_table_ ? g_[call_slot_] != 'B' : dec_[call_slot_].remaining != 0)) return 0;
  } else {
    const char g = g_[gl_];
    if (gsingle_ || (g != 'u' && g != 'B') || (g == 'u' && dec_[gl_].remaining != 0)) return 0;
    if (!in_run_ && may_start_run()) start_run();
    in_call_ = true;
    call_cps_ = 0;
    since_idle_ = 0;
    call_single_ = false;
    call_slot_ = gl_;
    call_table_ = g != 'u';
    call_gr_ = false;
  }
  std::size_t k = 1;
  while (k < n && p[k] >= 0x20 && p[k] < 0x7f) ++k;
  route_span(p, k);
  call_cps_ += k;
  cps_at_idle_ = call_cps_;
  if (in_run_) {
    have_glyph_ = true;
    last_glyph_ = base_ + held_.size() - 1;
    if (col0_) stretch_ += k;
  }
  return k;
}

void VtermFeedCompactor::step(unsigned char c) {
  if (in_call_) {
    bool accepts;
    if (call_single_ && call_cps_ >= 1) {
      accepts = false;  // a single shift decodes one code point
    } else if (call_table_) {
      const unsigned char t = c ^ (call_gr_ ? 0x80 : 0);
      accepts = t >= 0x20 && t < 0x7f;
    } else {
      accepts = c >= 0x20 && c != 0x7f;
    }
    if (accepts) {
      text_byte(c);
      return;
    }
    if (pending_char()) {
      // A character cut off by a control, an escape or DEL: libvterm keeps it
      // pending across them and later decodes it into the next text, writing
      // one code point past its on-stack array when that text starts a write.
      // Drop it, with the error glyphs of the lead bytes before it.
      dropped_ += unwind_partial().size();
      ++defused_;
    }
    in_call_ = false;
  }
  if (!in_run_ && may_start_run()) start_run();

  if (c == 0x00 || c == 0x7f) {  // ignored by libvterm everywhere
    route(c);
    if (parse_ != Parse::normal) seq_plain_ = false;
    not_plain();
    return;
  }
  if (c == 0x18 || c == 0x1a) {  // CAN, SUB: abort any sequence
    route(c);
    parse_ = Parse::normal;
    not_plain();
    return;
  }
  if (c == 0x1b) {
    route(c);
    if (parse_ == Parse::string) {
      parse_ = Parse::esc_in_string;
    } else {
      if (parse_ == Parse::normal) {
        seq_plain_ = true;
      } else {
        seq_plain_ = false;
        not_plain();
      }
      parse_ = Parse::esc;
    }
    intermed_len_ = 0;
    return;
  }
  if (c == 0x07 && parse_ == Parse::string) {  // BEL ends OSC/DCS
    route(c);
    parse_ = Parse::normal;
    not_plain();
    return;
  }
  if (c < 0x20) {
    route(c);
    control(c);
    if (parse_ == Parse::normal) {
      plain_control(c);
    } else {
      seq_plain_ = false;
      not_plain();
    }
    return;
  }

  switch (parse_) {
    case Parse::esc_in_string:
      route(c);
      if (c == 0x5c) {  // ST
        parse_ = Parse::normal;
        return;
      }
      parse_ = Parse::esc;
      esc_byte(c);
      return;
    case Parse::esc:
      route(c);
      esc_byte(c);
      return;
    case Parse::csi_leader:
      if (c >= 0x3c && c <= 0x3f) {
        route(c);
        if (leader_len_ < kMaxStored) {
          if (leader_len_ == 0) leader_ = c;
          ++leader_len_;
        }
        seq_plain_ = false;
        not_plain();
        return;
      }
      argi_ = 0;
      arg_digits_ = 0;
      args_[0] = kArgMissing;
      parse_ = Parse::csi_args;
      csi_args_byte(c);
      return;
    case Parse::csi_args:
      csi_args_byte(c);
      return;
    case Parse::csi_intermed:
      csi_intermed_byte(c);
      return;
    case Parse::string:
      route(c);
      return;
    case Parse::normal:
      break;
  }

  // A text byte starts an on_text() call; libvterm picks the decoder from it.
  in_call_ = true;
  call_cps_ = 0;
  since_idle_ = 0;
  cps_at_idle_ = 0;
  call_single_ = gsingle_ != 0;
  call_slot_ = call_single_ ? gsingle_ : (c & 0x80) ? 4 : gl_;
  call_table_ = call_slot_ != 4 && g_[call_slot_] != 'u';
  call_gr_ = call_table_ && (c & 0x80);
  if (call_table_) {
    const unsigned char t = c ^ (call_gr_ ? 0x80 : 0);
    if (t < 0x20 || t >= 0x7f) {  // the table decoder eats nothing; libvterm skips the byte
      route(c);
      in_call_ = false;
      not_plain();
      return;
    }
  }
  text_byte(c);
}

void VtermFeedCompactor::esc_byte(unsigned char c) {
  if (c == 'P' || c == ']') {
    parse_ = Parse::string;
    seq_plain_ = false;
    not_plain();
  } else if (c == '[') {
    leader_len_ = 0;
    parse_ = Parse::csi_leader;
  } else if (c >= 0x20 && c <= 0x2f) {
    if (intermed_len_ < kMaxStored) {
      if (intermed_len_ == 0) intermed_ = c;
      ++intermed_len_;
    }
    seq_plain_ = false;
    not_plain();
  } else if (intermed_len_ == 0 && c >= 0x40 && c < 0x60) {
    control(static_cast<unsigned char>(c + 0x40));
    parse_ = Parse::normal;
    not_plain();
  } else if (c >= 0x30 && c < 0x7f) {
    dispatch_escape(c);
    parse_ = Parse::normal;
    not_plain();
  } else {
    seq_plain_ = false;  // libvterm drops the byte and stays in ESC
    not_plain();
  }
}

void VtermFeedCompactor::csi_args_byte(unsigned char c) {
  if (is_digit(c) && ++arg_digits_ > kMaxDigits) {
    defuse();  // libvterm's long would overflow (undefined behaviour)
    return;
  }
  if (is_digit(c)) {
    route(c);
    std::uint64_t& a = args_[argi_];
    if (a == kArgMissing) a = 0;
    a = a * 10 + (c - '0');
    return;
  }
  if (c == ':' || c == ';') {
    if (argi_ + 1 >= kMaxArgs) {
      defuse();  // libvterm would store this argument past csi_args[]
      return;
    }
    arg_digits_ = 0;
    route(c);
    if (c == ':') args_[argi_] |= kArgMore;
    args_[++argi_] = kArgMissing;
    return;
  }
  ++argi_;
  intermed_len_ = 0;
  parse_ = Parse::csi_intermed;
  csi_intermed_byte(c);
}

// Ends the CSI here with CAN (libvterm runs nothing for it) and drops the
// rest of it.
void VtermFeedCompactor::defuse() {
  seq_plain_ = false;
  not_plain();
  route(0x18);
  parse_ = Parse::normal;
  defusing_ = true;
  defuse_intermed_ = false;
  ++defused_;
}

void VtermFeedCompactor::csi_intermed_byte(unsigned char c) {
  if (c == 'b' && leader_len_ == 0 && intermed_len_ == 0) {
    // REP repeats the last glyph; libvterm 0.1.4 writes past the row for a
    // wide one and never ends for a lone combining mark. CAN ends the CSI
    // without running it.
    route(0x18);
    ++defused_;
    parse_ = Parse::normal;
    seq_plain_ = false;
    not_plain();
    return;
  }
  route(c);
  if (c >= 0x20 && c <= 0x2f) {
    if (intermed_len_ < kMaxStored) {
      if (intermed_len_ == 0) intermed_ = c;
      ++intermed_len_;
    }
    seq_plain_ = false;
    not_plain();
    return;
  }
  if (c >= 0x40 && c <= 0x7e) dispatch_csi(c);
  else seq_plain_ = false;  // an invalid CSI: libvterm drops it
  parse_ = Parse::normal;
  if (!seq_plain_) not_plain();
}

// Dropping the rest of a CSI that had too many parameters, as libvterm would
// parse it: C0 controls still run, ESC starts a new sequence.
void VtermFeedCompactor::defuse_step(unsigned char c) {
  if (c == 0x1b) {
    defusing_ = false;
    step(c);
  } else if (c == 0x18 || c == 0x1a) {
    defusing_ = false;
  } else if (c == 0x00 || c == 0x7f) {
    // ignored
  } else if (c < 0x20) {
    step(c);
  } else if (c <= 0x2f) {
    defuse_intermed_ = true;
  } else if (c <= 0x3b && !defuse_intermed_) {
    // digits and separators
  } else {
    defusing_ = false;  // final byte, or a byte that makes the CSI invalid
  }
}

// Terminal state changed by C0 controls (anywhere) and C1 controls (ESC Fe).
void VtermFeedCompactor::control(unsigned char c) {
  switch (c) {
    case 0x0e: gl_ = 1; break;       // LS1 (SO)
    case 0x0f: gl_ = 0; break;       // LS0 (SI)
    case 0x8e: gsingle_ = 2; break;  // SS2
    case 0x8f: gsingle_ = 3; break;  // SS3
    default: break;
  }
}

void VtermFeedCompactor::plain_control(unsigned char c) {
  if (!in_run_) return;
  switch (c) {
    case '\r':
      end_stretch();
      col0_ = true;
      if (decoders_clean()) cuts_.push_back({base_ + held_.size() - 1, rows_seen_});
      break;
    case '\n':
      end_stretch();
      ++rows_seen_;
      break;
    case '\t':
      end_stretch();
      col0_ = false;
      break;
    case '\b':
      end_stretch();  // at column 0, BS stays there
      break;
    case 0x07:
      break;  // BEL moves nothing
    default:
      not_plain();
      break;
  }
}

void VtermFeedCompactor::decode_byte(unsigned char c) {
  if (call_table_) {
    route(c);
    const unsigned char t = c ^ (call_gr_ ? 0x80 : 0);
    // Only US-ASCII is ever decoded inside a run; DEC graphics and UK map
    // to other code points, which need not be exact outside one.
    codepoint(g_[call_slot_] == 'B' ? t : 0xE000u + t, false);
    return;
  }
  Utf8& d = dec_[call_slot_];
  if (c >= 0x80 && c < 0xc0 && d.remaining == 1 && d.total == 2 && d.cp == 0x02 && (c & 0x3f) < 0x20) {
    // U+0080-U+009F: libvterm gives these width -1 and moves the cursor to
    // column -1, then writes there. Pass U+00BF instead.
    c = 0xbf;
    ++defused_;
  }
  route(c);
  if (c < 0x7f) {
    if (d.remaining) codepoint(kInvalid, true);
    codepoint(c, false);
    d.remaining = 0;
    return;
  }
  if (c < 0xc0) {
    if (!d.remaining) {
      codepoint(kInvalid, true);
      return;
    }
    d.cp = (d.cp << 6) | (c & 0x3f);
    if (--d.remaining) return;
    std::uint32_t cp = d.cp;
    bool bad = false;
    switch (d.total) {
      case 2: bad = cp < 0x80; break;
      case 3: bad = cp < 0x800; break;
      case 4: bad = cp < 0x10000; break;
      case 5: bad = cp < 0x200000; break;
      case 6: bad = cp < 0x4000000; break;
      default: break;
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) bad = true;
    codepoint(bad ? kInvalid : cp, bad);
    return;
  }
  int total = 0;
  std::uint32_t bits = 0;
  if (c < 0xe0) total = 2, bits = c & 0x1f;
  else if (c < 0xf0) total = 3, bits = c & 0x0f;
  else if (c < 0xf8) total = 4, bits = c & 0x07;
  else if (c < 0xfc) total = 5, bits = c & 0x03;
  else if (c < 0xfe) total = 6, bits = c & 0x01;
  if (!total) {
    codepoint(kInvalid, true);
    return;
  }
  if (d.remaining) codepoint(kInvalid, true);
  d.cp = bits;
  d.total = total;
  d.remaining = total - 1;
}

void VtermFeedCompactor::text_byte(unsigned char c) {
  decode_byte(c);
  if (call_table_ || dec_[call_slot_].remaining == 0) {
    since_idle_ = 0;
    cps_at_idle_ = call_cps_;
  } else {
    ++since_idle_;
  }
}

void VtermFeedCompactor::codepoint(std::uint32_t cp, bool error) {
  const bool first = call_cps_ == 0;
  ++call_cps_;
  if (call_single_) gsingle_ = 0;
  if (!in_run_) return;
  if (error || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp > 0x10FFFF || (first && vterm_maybe_combining(cp))) {
    not_plain();  // an error glyph, a C1 control, or a mark libvterm would attach to an older glyph
    return;
  }
  have_glyph_ = true;
  last_glyph_ = base_ + held_.size() - 1;
  if (cp < 0x80) {
    if (col0_) ++stretch_;
  } else {
    end_stretch();
    col0_ = false;  // width unknown here
  }
}

void VtermFeedCompactor::dispatch_escape(unsigned char final) {
  const unsigned char first = intermed_len_ ? intermed_ : final;
  const int len = intermed_len_ + 1;
  switch (first) {
    case '#':
      if (len == 2 && (final == '3' || final == '4' || final == '6') && !lrmm_) dwl_dirty_ = true;
      break;
    case '(': case ')': case '*': case '+':
      if (len == 2 && (final == '0' || final == 'A' || final == 'B')) g_[first - '('] = static_cast<char>(final);
      break;
    case 'c':
      reset_terminal();
      break;
    case 'n': gl_ = 2; break;
    case 'o': gl_ = 3; break;
    default: break;
  }
}

void VtermFeedCompactor::dispatch_csi(unsigned char final) {
  bool handled = true;
  unsigned char leader = 0, inter = 0;
  if (leader_len_) {
    if (leader_len_ > 1 || (leader_ != '?' && leader_ != '>')) handled = false;
    else leader = leader_;
  }
  if (intermed_len_) {
    if (intermed_len_ > 1 || (intermed_ != ' ' && intermed_ != '"' && intermed_ != '$' && intermed_ != '\''))
      handled = false;
    else
      inter = intermed_;
  }
  const int argc = argi_;
  auto arg = [&](int i) { return args_[i] & kArgMask; };
  bool plain = false;
  if (handled && !leader && !inter) {
    switch (final) {
      case 'm':  // SGR
        plain = true;
        break;
      case 'K':  // EL: erases part of the cursor's row, moves nothing
        plain = argc == 1 && (arg(0) == kArgMissing || arg(0) <= 2);
        break;
      case 'r': {  // DECSTBM
        std::int64_t top = static_cast<std::int64_t>(arg(0) == kArgMissing ? 1 : arg(0)) - 1;
        std::int64_t bottom = (argc < 2 || arg(1) == kArgMissing) ? -1 : static_cast<std::int64_t>(arg(1));
        top = std::clamp<std::int64_t>(top, 0, rows_);
        bottom = std::max<std::int64_t>(bottom, -1);
        if (top == 0 && bottom == rows_) bottom = -1;
        else bottom = std::min<std::int64_t>(bottom, rows_);
        if ((bottom > -1 ? bottom : rows_) <= top) top = 0, bottom = -1;
        top_ = static_cast<int>(top);
        bottom_ = static_cast<int>(bottom);
        break;
      }
      case 's': {  // DECSLRM, stored even without DECLRMM
        std::int64_t left = static_cast<std::int64_t>(arg(0) == kArgMissing ? 1 : arg(0)) - 1;
        std::int64_t right = (argc < 2 || arg(1) == kArgMissing) ? -1 : static_cast<std::int64_t>(arg(1));
        left = std::clamp<std::int64_t>(left, 0, cols_);
        right = std::max<std::int64_t>(right, -1);
        if (left == 0 && right == cols_) right = -1;
        else right = std::min<std::int64_t>(right, cols_);
        if (right > -1 && right <= left) left = 0, right = -1;
        left_ = static_cast<int>(left);
        right_ = static_cast<int>(right);
        break;
      }
      case 'h': case 'l':  // SM/RM: libvterm reads only the first parameter
        if (arg(0) == 4) insert_ = final == 'h';
        break;
      default:
        break;
    }
  } else if (handled && leader == '?' && !inter && (final == 'h' || final == 'l')) {
    const bool on = final == 'h';
    if (arg(0) == 7) {
      autowrap_ = on;
    } else if (arg(0) == 69) {
      lrmm_ = on;
      if (on) dwl_dirty_ = false;  // setting DECLRMM clears every line's double width
    }
  }
  if (!plain) seq_plain_ = false;
}

void VtermFeedCompactor::reset_terminal() {  // RIS: vterm_state_reset(state, 1)
  top_ = 0, bottom_ = -1, left_ = 0, right_ = -1;
  lrmm_ = false, autowrap_ = true, insert_ = false, dwl_dirty_ = false;
  g_.fill('u');
  for (int s = 0; s < 4; ++s) dec_[s] = Utf8{};  // the >= 0x80 decoder keeps its state
  gl_ = 0;
  gsingle_ = 0;
}

bool VtermFeedCompactor::compactable() const {
  const int bottom = bottom_ > -1 ? bottom_ : rows_;
  const int left = lrmm_ ? left_ : 0;
  const int right = lrmm_ && right_ > -1 ? right_ : cols_;
  return top_ == 0 && bottom == rows_ && left == 0 && right == cols_ && !insert_ && !dwl_dirty_ &&
         gsingle_ == 0 && (g_[gl_] == 'u' || g_[gl_] == 'B') && cols_ >= 3 && rows_ >= 1;
}

bool VtermFeedCompactor::pending_char() const {
  return in_call_ && !call_table_ && dec_[call_slot_].remaining > 0;
}

// Takes back the bytes of this call since its decoder was last idle (a
// partial character, and any lead bytes that only turned into error glyphs
// on the way): they are the last bytes routed, and libvterm has not seen
// them. The mirror goes back to the idle decoder.
std::string VtermFeedCompactor::unwind_partial() {
  std::string& dest = in_run_ ? held_ : out_;
  const std::size_t k = std::min(since_idle_, dest.size());
  std::string bytes = dest.substr(dest.size() - k);
  dest.resize(dest.size() - k);
  dec_[call_slot_].remaining = 0;
  call_cps_ = cps_at_idle_;
  if (call_single_ && call_cps_ == 0) gsingle_ = call_slot_;  // the shift was not used after all
  since_idle_ = 0;
  return bytes;
}

bool VtermFeedCompactor::decoders_clean() const {
  for (int s = 0; s < 4; ++s)
    if (g_[s] == 'u' && dec_[s].remaining) return false;
  return dec_[4].remaining == 0;
}

// ---- the held run -------------------------------------------------------------

void VtermFeedCompactor::route(unsigned char c) {
  if (in_run_) held_.push_back(static_cast<char>(c));
  else out_.push_back(static_cast<char>(c));
}

void VtermFeedCompactor::route_span(const unsigned char* p, std::size_t n) {
  (in_run_ ? held_ : out_).append(reinterpret_cast<const char*>(p), n);
}

// A run starts only where libvterm starts a new on_text() call anyway, so the
// write boundary a held run adds before itself changes nothing.
bool VtermFeedCompactor::may_start_run() const {
  return !line_open_ && !defusing_ && !in_call_ && parse_ == Parse::normal && compactable() && decoders_clean();
}

void VtermFeedCompactor::start_run() {
  in_run_ = true;
  held_.clear();
  base_ = 0;
  push_start_ = 0;
  marks_.clear();
  cuts_.clear();
  summary_.clear();
  skipped_ = false;
  rows_seen_ = 0;
  col0_ = false;
  stretch_ = 0;
  have_glyph_ = false;
  last_glyph_ = 0;
}

void VtermFeedCompactor::not_plain() {
  if (in_run_) emit_all();
}

// Hands over the held run, split where the input's writes were split; the
// part of the current push joins out_, which is written when the push ends.
void VtermFeedCompactor::emit_all() {
  if (!in_run_) return;
  in_run_ = false;
  const bool replay = skipped_ && !summary_.empty();
  if (replay) replayed_ += summary_.size();
  const std::uint64_t end = base_ + held_.size();
  std::uint64_t from = base_;
  bool first = true;
  auto deliver = [&](std::uint64_t to) {
    const std::string_view piece = std::string_view(held_).substr(from - base_, to - from);
    const bool mine = in_push_ && from >= push_start_;
    if (mine) {
      if (first && replay) out_ += summary_;
      out_ += piece;
    } else if (first && replay) {
      (*feed_)(summary_ + std::string(piece));
    } else if (!piece.empty()) {
      (*feed_)(piece);
    }
    first = false;
    from = to;
  };
  for (const std::uint64_t m : marks_)
    if (m > from && m < end) deliver(m);
  deliver(end);
  held_.clear();
  marks_.clear();
  cuts_.clear();
  summary_.clear();
  skipped_ = false;
}

void VtermFeedCompactor::end_stretch() {
  if (stretch_ == 0) return;
  if (col0_ && autowrap_) rows_seen_ += (stretch_ - 1) / static_cast<std::uint64_t>(cols_);
  col0_ = false;
  stretch_ = 0;
}

void VtermFeedCompactor::try_cut() {
  if (held_.size() <= threshold_ || cuts_.empty() || !have_glyph_ || last_glyph_ == 0) return;
  const std::uint64_t rows = static_cast<std::uint64_t>(rows_);
  if (rows_seen_ < rows) return;
  // q: the last CR with `rows` rows after it and a glyph drawn after it.
  auto by_rows = [](std::uint64_t v, const CutPoint& cp) { return v < cp.rows_before; };
  auto by_pos = [](std::uint64_t v, const CutPoint& cp) { return v < cp.pos; };
  auto q_end = std::upper_bound(cuts_.begin(), cuts_.end(), rows_seen_ - rows, by_rows);
  q_end = std::min(q_end, std::upper_bound(cuts_.begin(), cuts_.end(), last_glyph_ - 1, by_pos));
  if (q_end == cuts_.begin()) return;
  const CutPoint q = *std::prev(q_end);
  if (q.rows_before < rows - 1) return;
  // c: the last CR with rows-1 rows between it and q.
  const auto c_end = std::upper_bound(cuts_.begin(), q_end, q.rows_before - (rows - 1), by_rows);
  if (c_end == cuts_.begin()) return;
  const auto c = std::prev(c_end);
  if (c->pos <= base_) return;

  // The dropped part's SGRs, from its last full reset (SGR 0 or empty) on.
  std::string summary = summary_;
  const std::size_t cut = static_cast<std::size_t>(c->pos - base_);
  for (std::size_t i = held_.find('\x1b'); i < cut; i = held_.find('\x1b', i)) {
    std::size_t j = i + 2;  // after ESC [
    while (j < cut && !(held_[j] >= 0x40 && held_[j] <= 0x7e)) ++j;
    if (j >= cut) break;  // cannot happen: a CR in NORMAL state follows
    if (held_[j] == 'm') {
      std::uint64_t a = kArgMissing;
      for (std::size_t k = i + 2; k < j && is_digit(static_cast<unsigned char>(held_[k])); ++k)
        a = (a == kArgMissing ? 0 : a) * 10 + static_cast<std::uint64_t>(held_[k] - '0');
      if ((a & kArgMask) == 0 || (a & kArgMask) == kArgMissing) summary.clear();
      summary.append(held_, i, j + 1 - i);
    }
    i = j + 1;
  }
  if (summary.size() > kMaxSummary) {
    emit_all();  // exact too; just not cheaper this time
    return;
  }
  summary_ = std::move(summary);
  dropped_ += cut;
  held_.erase(0, cut);
  base_ = c->pos;
  cuts_.erase(cuts_.begin(), c);
  std::erase_if(marks_, [&](std::uint64_t m) { return m <= base_; });
  skipped_ = true;
}

}  // namespace bastion

#include "recorder/terminal_query_filter.h"

namespace recorder {
namespace {

constexpr unsigned char kEnq = 0x05, kBel = 0x07, kEsc = 0x1b, kCan = 0x18, kSub = 0x1a;
constexpr unsigned char kC1Dcs = 0x90, kC1Sos = 0x98, kC1Decid = 0x9a, kC1Csi = 0x9b, kC1St = 0x9c,
                        kC1Osc = 0x9d, kC1Pm = 0x9e, kC1Apc = 0x9f;

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// The first parameter as a terminal reads it (leading zeros, saturating).
unsigned first_number(std::string_view s) {
  unsigned v = 0;
  for (const char c : s) {
    if (!is_digit(static_cast<unsigned char>(c))) break;
    v = v > 100000 ? v : v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

}  // namespace

void TerminalQueryFilter::feed(std::string_view bytes, std::string& out) {
  for (const char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    // Answerback, anywhere (a terminal executes C0 inside sequences). Dropped
    // before decoding, as if never sent: what follows must decode as the
    // terminal will see it, e.g. joined to a UTF-8 lead byte before it.
    if (b == kEnq) continue;
    const char one[1] = {ch};
    if (pending_c2_) {
      pending_c2_ = false;
      if (b >= 0x80 && b <= 0x9f) {  // U+0080..U+009F: a C1 control
        const char two[2] = {'\xc2', ch};
        token(Kind::c1, b, std::string_view(two, 2), out);
        continue;
      }
      token(Kind::other, 0xc2, "\xc2", out);
      utf8_need_ = 1;
    }
    if (utf8_need_ > 0 && b >= 0x80 && b <= 0xbf) {
      --utf8_need_;
      token(Kind::other, b, std::string_view(one, 1), out);
      continue;
    }
    utf8_need_ = 0;
    if (b < 0x80) {
      token(Kind::ascii, b, std::string_view(one, 1), out);
    } else if (b == 0xc2) {
      pending_c2_ = true;
    } else if (b >= 0xc3 && b <= 0xf4) {
      utf8_need_ = b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
      token(Kind::other, b, std::string_view(one, 1), out);
    } else if (b <= 0x9f) {  // a stray 8-bit C1 (a terminal not in UTF-8 mode obeys it)
      token(Kind::c1, b, std::string_view(one, 1), out);
    } else {
      token(Kind::other, b, std::string_view(one, 1), out);
    }
  }
}

void TerminalQueryFilter::finish(std::string& out) {
  if (pending_c2_) {
    pending_c2_ = false;
    token(Kind::other, 0xc2, "\xc2", out);
  }
  utf8_need_ = 0;
  if (state_ != State::ground) abort_sequence();  // unfinished: never write part of it
}

void TerminalQueryFilter::token(Kind kind, unsigned char c, std::string_view raw, std::string& out) {
  const bool in_string = state_ == State::osc || state_ == State::dcs_body || state_ == State::str;
  if (kind == Kind::ascii) {
    if (c == kCan || c == kSub) {
      if (in_string || state_ == State::string_esc) end_string({}, out);
      else if (state_ != State::ground) abort_sequence();
      out += raw;
      return;
    }
    if (c == kEsc) {
      if (in_string) {
        state_ = State::string_esc;  // ST, or the string ends and a new sequence starts
        return;
      }
      if (state_ == State::string_esc && str_ == StrKind::tmux) {
        state_ = State::dcs_body;  // tmux doubles each ESC inside its passthrough
        return;
      }
      if (state_ == State::string_esc) end_string({}, out);
      else if (state_ != State::ground) abort_sequence();
      start(State::esc, raw);
      return;
    }
  } else if (kind == Kind::c1) {
    // A C1 control ends a string (ST: properly) or cuts any other sequence.
    if (in_string && c == kC1St) return end_string(raw, out);
    if (in_string || state_ == State::string_esc) end_string({}, out);
    else if (state_ != State::ground) abort_sequence();
    return ground(kind, c, raw, out);
  }
  switch (state_) {
    case State::ground: return ground(kind, c, raw, out);
    case State::esc: return escape(kind, c, raw, out);
    case State::csi:
      if (kind != Kind::ascii) {
        abort_sequence();
        return ground(kind, c, raw, out);
      }
      if (c >= 0x40 && c <= 0x7e) return end_sequence(csi_is_query(c), raw, out);
      if (mode_ == Mode::hold) {
        if (c >= 0x30 && c <= 0x3f) {
          if (prefix_ == 0 && params_.empty() && inter_.empty() && c >= 0x3c) prefix_ = static_cast<char>(c);
          else params_ += static_cast<char>(c);
        } else if (c >= 0x20 && c <= 0x2f) {
          inter_ += static_cast<char>(c);
        }
      }
      return keep(raw, out);  // parameters, intermediates, and C0 (executed in place)
    case State::dcs_head:
      if (kind != Kind::ascii) {
        abort_sequence();
        return ground(kind, c, raw, out);
      }
      if (c >= 0x40 && c <= 0x7e) {
        keep(raw, out);
        state_ = State::dcs_body;
        str_ = StrKind::dcs;
        if (mode_ != Mode::hold) return;
        if (((inter_ == "$" || inter_ == "+") && c == 'q') || (inter_ == "+" && c == 'Q')) {  // DECRQSS, XTGETTCAP, XTGETXRES
          mode_ = Mode::discard;
          held_.clear();
        } else if (!(c == 't' && params_.empty() && inter_.empty())) {  // not maybe "tmux;"
          out += held_;
          held_.clear();
          mode_ = Mode::pass;
        }
        return;
      }
      if (mode_ == Mode::hold) {
        if (c >= 0x30 && c <= 0x3f) params_ += static_cast<char>(c);
        else if (c >= 0x20 && c <= 0x2f) inter_ += static_cast<char>(c);
      }
      return keep(raw, out);
    case State::osc:
    case State::dcs_body:
    case State::str:
      return body(c, raw, out);
    case State::string_esc:
      if (kind == Kind::ascii && c == '\\') return end_string("\x1b\\", out);
      end_string({}, out);  // ended by an ESC that starts something else
      start(State::esc, "\x1b");
      return escape(kind, c, raw, out);
  }
}

void TerminalQueryFilter::ground(Kind kind, unsigned char c, std::string_view raw, std::string& out) {
  if (kind != Kind::c1) {
    out += raw;
    return;
  }
  switch (c) {
    case kC1Csi: return start(State::csi, raw);
    case kC1Dcs: return start(State::dcs_head, raw);
    case kC1Osc:
      start(State::osc, raw);
      return enter_body(StrKind::osc, out);
    case kC1Sos:
    case kC1Pm:
      start(State::str, raw);
      return enter_body(StrKind::other, out);
    case kC1Apc:
      start(State::str, raw);
      return enter_body(StrKind::apc, out);
    case kC1Decid: return;  // answered like DA
    default: out += raw;
  }
}

void TerminalQueryFilter::escape(Kind kind, unsigned char c, std::string_view raw, std::string& out) {
  if (kind != Kind::ascii) {
    abort_sequence();
    return ground(kind, c, raw, out);
  }
  if (c < 0x20 || c == 0x7f) return keep(raw, out);  // C0 executes in place
  if (c <= 0x2f) {
    if (mode_ == Mode::hold) inter_ += static_cast<char>(c);
    return keep(raw, out);
  }
  if (inter_.empty()) {
    switch (c) {
      case '[': keep(raw, out); state_ = State::csi; return;
      case 'P': keep(raw, out); state_ = State::dcs_head; return;
      case ']': keep(raw, out); return enter_body(StrKind::osc, out);
      case 'X':
      case '^': keep(raw, out); return enter_body(StrKind::other, out);
      case '_': keep(raw, out); return enter_body(StrKind::apc, out);
      case 'Z': return end_sequence(true, raw, out);  // DECID
      default: break;
    }
  }
  end_sequence(false, raw, out);
}

void TerminalQueryFilter::body(unsigned char c, std::string_view raw, std::string& out) {
  if (str_ == StrKind::osc && c == kBel) return end_string(raw, out);
  if (mode_ != Mode::hold) return keep(raw, out);
  payload_ += raw;
  keep(raw, out);
  if (mode_ != Mode::hold) return;  // grew too long: dropped whole
  bool harmless = false;
  switch (str_) {
    case StrKind::osc:
      if (ps_done_ || is_digit(c)) return;
      ps_done_ = true;
      {
        // Titles, working directory, hyperlinks: never answered, may be long.
        const unsigned ps = first_number(payload_);
        harmless = c == ';' && payload_.size() > 1 && (ps <= 2 || ps == 7 || ps == 8);
      }
      if (!harmless) return;
      break;
    case StrKind::dcs:
      if (payload_.size() < 4) return;
      if (payload_ == "mux;") {  // tmux passthrough: its content reaches the outer terminal
        str_ = StrKind::tmux;
        mode_ = Mode::discard;
        held_.clear();
        return;
      }
      break;
    case StrKind::apc:
      if (c == 'G') {  // kitty graphics: answered
        mode_ = Mode::discard;
        held_.clear();
        return;
      }
      break;
    case StrKind::tmux:
    case StrKind::other: break;
  }
  out += held_;
  held_.clear();
  mode_ = Mode::pass;
}

void TerminalQueryFilter::start(State s, std::string_view raw) {
  state_ = s;
  mode_ = Mode::hold;
  held_.assign(raw);
  payload_.clear();
  params_.clear();
  inter_.clear();
  prefix_ = 0;
  ps_done_ = false;
}

void TerminalQueryFilter::enter_body(StrKind kind, std::string& out) {
  str_ = kind;
  state_ = kind == StrKind::osc ? State::osc : kind == StrKind::dcs ? State::dcs_body : State::str;
  if (kind == StrKind::other && mode_ == Mode::hold) {  // SOS, PM: never answered
    out += held_;
    held_.clear();
    mode_ = Mode::pass;
  }
}

void TerminalQueryFilter::keep(std::string_view raw, std::string& out) {
  switch (mode_) {
    case Mode::hold:
      held_ += raw;
      if (held_.size() > kMaxHeld) {
        mode_ = Mode::discard;
        held_.clear();
        payload_.clear();
      }
      return;
    case Mode::pass: out += raw; return;
    case Mode::discard: return;
  }
}

void TerminalQueryFilter::end_sequence(bool query, std::string_view tail, std::string& out) {
  if (mode_ == Mode::hold && !query) {
    out += held_;
    out += tail;
  } else if (mode_ == Mode::pass) {
    out += tail;
  }
  abort_sequence();
}

void TerminalQueryFilter::end_string(std::string_view terminator, std::string& out) {
  // A held string still undecided (a DCS "t" or an APC too short to tell) is
  // dropped; a held OSC is judged whole.
  const bool query = mode_ == Mode::hold && (str_ != StrKind::osc || osc_is_query());
  // Cut short (by ESC, a C1, CAN, SUB): a string already written must be
  // closed with ST here, or a terminal would read what follows (once a
  // dropped query is gone) as more of it: "ESC]1" "ESC[>q" "1;?BEL".
  end_sequence(query, terminator.empty() ? std::string_view("\x1b\\") : terminator, out);
}

void TerminalQueryFilter::abort_sequence() {
  held_.clear();
  payload_.clear();
  state_ = State::ground;
  mode_ = Mode::hold;
}

bool TerminalQueryFilter::csi_is_query(unsigned char final) const {
  const bool plain = prefix_ == 0;
  if (inter_.empty()) {
    switch (final) {
      case 'n': return plain || prefix_ == '?';                     // DSR
      case 'c': return plain || prefix_ == '>' || prefix_ == '=';   // DA1, DA2, DA3
      case 'q': return prefix_ == '>';                              // XTVERSION
      case 'x': return plain;                                       // DECREQTPARM
      case 'S':                                                     // XTSMGRAPHICS
      case 'm':                                                     // XTQMODKEYS
      case 'u': return prefix_ == '?';                              // kitty keyboard flags
      case 't': {                                                   // window reports
        if (!plain) return false;
        const unsigned v = first_number(params_);
        return v == 11 || (v >= 13 && v <= 16) || (v >= 18 && v <= 21);
      }
      default: return false;
    }
  }
  if (inter_ == "$") return final == 'p' || final == 'u' || final == 'w';  // DECRQM, DECRQTSR, DECRQPSR
  if (inter_ == "+") return final == 'x';                                  // DECRQPKFM
  if (inter_ == "&") return final == 'u';                                  // DECRQUPSS
  if (inter_ == "*") return final == 'y';                                  // DECRQCRA
  if (inter_ == "'") return final == '|';                                  // DECRQLP
  if (inter_ == "\"") return final == 'v';                                 // DECRQDE
  if (inter_ == "#") return final == 'R' || final == '|';                  // XTREPORTCOLORS, XTREPORTSGR
  return false;
}

bool TerminalQueryFilter::osc_is_query() const {
  // Colour, palette, clipboard and most vendor queries put "?" as (or at the
  // end of) a field: 4;1;? 10;? 11;? 52;c;? 21;foreground=?
  std::string_view p = payload_;
  // Not queries, but a replay must not act outside the screen either: the
  // clipboard (52, kitty's 5522) and iTerm2's files and variables (1337).
  // XTQALLOWED, XTQDISALLOWED (60, 61) are answered with no "?" at all.
  // Numbered as a terminal reads them: "052" is 52.
  const std::string_view command = p.substr(0, p.find(';'));
  if (!command.empty() && command.find_first_not_of("0123456789") == std::string_view::npos) {
    const unsigned n = first_number(command);
    if (n == 52 || n == 5522 || n == 1337 || n == 60 || n == 61) return true;
  }
  bool first = true;
  while (true) {
    const auto semi = p.find(';');
    const std::string_view field = p.substr(0, semi);
    if (!first && !field.empty() && field.back() == '?') return true;
    first = false;
    if (semi == std::string_view::npos) return false;
    p.remove_prefix(semi + 1);
  }
}

}  // namespace recorder

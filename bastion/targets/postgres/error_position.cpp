#include "targets/postgres/error_position.h"

#include <cstdint>
#include <vector>

namespace bastion {
namespace {

constexpr int kDisplaySize = 60;  // libpq's DISPLAY_SIZE: screen columns of the excerpt
constexpr int kMinRightCut = 10;  // libpq's MIN_RIGHT_CUT: keep the position this far from the cut

// Bytes of the UTF-8 sequence starting at p[0] (1 for a stray byte), bounded by n.
std::size_t char_len(const unsigned char* p, std::size_t n, uint32_t& cp) {
  std::size_t len = 1;
  cp = p[0];
  if (p[0] >= 0xF0) len = 4, cp = p[0] & 0x07;
  else if (p[0] >= 0xE0) len = 3, cp = p[0] & 0x0F;
  else if (p[0] >= 0xC0) len = 2, cp = p[0] & 0x1F;
  if (len > n) return 1;
  for (std::size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) {
      cp = p[0];
      return 1;
    }
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  return len;
}

// Screen columns, as pg_encoding_dsplen for UTF-8 (East Asian wide: 2),
// with libpq's rule that anything narrower than 1 counts 1.
int columns(uint32_t cp) {
  const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
                    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                    (cp >= 0xFE30 && cp <= 0xFE6F) || (cp >= 0xFF00 && cp <= 0xFF5F) ||
                    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
  return wide ? 2 : 1;
}

}  // namespace

std::string pg_error_position(std::string_view query, int position) {
  const int loc = position - 1;
  if (loc < 0) return "";
  std::string w(query);  // tabs become spaces in the excerpt
  std::vector<std::size_t> qidx;  // byte offset of each character
  std::vector<int> scridx;        // its screen column
  std::size_t q = 0;
  int scr = 0, line = 1, cno = 0, ibeg = 0, iend = -1;
  const auto* bytes = reinterpret_cast<const unsigned char*>(w.data());
  for (; q < w.size(); ++cno) {
    const char ch = w[q];
    qidx.push_back(q);
    scridx.push_back(scr);
    if (ch == '\t') {
      w[q] = ' ';
    } else if (ch == '\r' || ch == '\n') {
      if (cno < loc) {
        // Each \r or \n is a line, except \n right after \r.
        if (ch == '\r' || cno == 0 || w[qidx[static_cast<std::size_t>(cno) - 1]] != '\r') ++line;
        ibeg = cno + 1;
      } else {
        iend = cno;
        break;
      }
    }
    uint32_t cp = 0;
    const std::size_t n = char_len(bytes + q, w.size() - q, cp);
    scr += columns(cp);
    q += n;
  }
  if (iend < 0) {
    iend = cno;
    qidx.push_back(q);
    scridx.push_back(scr);
  }
  if (loc > cno) return "";
  const auto at = [&](int i) { return scridx[static_cast<std::size_t>(i)]; };
  bool beg_trunc = false, end_trunc = false;
  if (at(iend) - at(ibeg) > kDisplaySize) {
    if (at(ibeg) + kDisplaySize >= at(loc) + kMinRightCut) {
      while (at(iend) - at(ibeg) > kDisplaySize) --iend;
      end_trunc = true;
    } else {
      while (at(loc) + kMinRightCut < at(iend)) {
        --iend;
        end_trunc = true;
      }
      while (at(iend) - at(ibeg) > kDisplaySize) {
        ++ibeg;
        beg_trunc = true;
      }
    }
  }
  std::string prefix = "LINE " + std::to_string(line) + ": " + (beg_trunc ? "..." : "");
  const int caret = static_cast<int>(prefix.size()) + at(loc) - at(ibeg);
  const std::size_t b = qidx[static_cast<std::size_t>(ibeg)], e = qidx[static_cast<std::size_t>(iend)];
  std::string out = prefix + w.substr(b, e - b) + (end_trunc ? "..." : "") + "\n";
  out.append(static_cast<std::size_t>(caret), ' ');
  return out + "^\n";
}

}  // namespace bastion

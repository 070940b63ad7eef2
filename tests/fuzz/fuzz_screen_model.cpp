// Fuzzes the screen model (libvterm 0.1.4 underneath sees hostile target
// output): random output and resizes. Properties: it never crashes; the
// cursor is on the screen; every read stays in bounds and is valid UTF-8.
#include <cstdint>
#include <string>
#include <string_view>

#include "sources/screen_model.h"

namespace {

bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  bastion::ScreenModel m(1 + data[0] % 40, 1 + data[1] % 12);
  std::size_t i = 2;
  while (i < size) {
    const uint8_t op = data[i++];
    if (op == 0xFE && i + 1 < size) {  // resize
      m.resize(1 + data[i] % 60, 1 + data[i + 1] % 20);
      i += 2;
      continue;
    }
    const std::size_t n = std::min<std::size_t>(op % 64 + 1, size - i);
    m.feed(std::string_view(reinterpret_cast<const char*>(data + i), n));
    i += n;
    const bastion::ScreenPos c = m.cursor();
    if (c.row < 0 || c.row >= m.rows() || c.col < 0 || c.col >= m.cols()) __builtin_trap();
    for (int r = 0; r < m.rows(); ++r) {
      const int end = m.content_end(r);
      if (end < 0 || end > m.cols()) __builtin_trap();
      if (!valid_utf8(m.text(r, 0, m.cols()))) __builtin_trap();
      (void)m.wraps(r);
      (void)m.has_replacement(r, -5, m.cols() + 5);
    }
    (void)m.text(-1, 0, 5);
    (void)m.text(m.rows(), 0, 5);
  }
  return 0;
}

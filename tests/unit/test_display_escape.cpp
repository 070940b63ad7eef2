// How user-controlled text is shown on a terminal or in a text log.
#include <catch2/catch.hpp>

#include <string>

#include "common/display_escape.h"

using bastion::display_escape;
using bastion::display_escape_multiline;
using bastion::display_escape_truncated;
using namespace std::string_literals;

TEST_CASE("display_escape: printable ASCII and printable UTF-8 pass unchanged", "[display]") {
  CHECK(display_escape("sudo systemctl status nginx") == "sudo systemctl status nginx");
  CHECK(display_escape(" !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~") == " !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~");
  CHECK(display_escape("Zoë Ünal → 日本語 \xF0\x9F\x94\x91") == "Zoë Ünal → 日本語 \xF0\x9F\x94\x91");
  CHECK(display_escape("") == "");
}

TEST_CASE("display_escape: the approval forgery is shown literally", "[display]") {
  CHECK(display_escape("rm -rf /srv\r\x1b[Ksudo systemctl status nginx") ==
        "rm -rf /srv\\r\\x1b[Ksudo systemctl status nginx");
}

TEST_CASE("display_escape: backslash and C0 controls and DEL", "[display]") {
  CHECK(display_escape("a\\b") == "a\\\\b");
  CHECK(display_escape("\\x1b") == "\\\\x1b");  // typed text never passes for an escape
  CHECK(display_escape("a\nb\tc\rd") == "a\\nb\\tc\\rd");
  CHECK(display_escape("\x00\x01\x07\x08\x0b\x0c\x1b\x1f\x7f"s) == "\\x00\\x01\\x07\\x08\\x0b\\x0c\\x1b\\x1f\\x7f");
}

TEST_CASE("display_escape: C1 controls", "[display]") {
  CHECK(display_escape("a\xC2\x80z") == "a\\u0080z");
  CHECK(display_escape("a\xC2\x85z") == "a\\u0085z");
  CHECK(display_escape("\xC2\x9B" "31m") == "\\u009b31m");  // CSI
  CHECK(display_escape("\xC2\x9F") == "\\u009f");
  CHECK(display_escape("\xC2\xA1") == "\xC2\xA1");  // U+00A1 is printable
}

TEST_CASE("display_escape: bidi, zero-width and other invisible characters", "[display]") {
  CHECK(display_escape("ls \xE2\x80\xAE" "fdp.exe") == "ls \\u202efdp.exe");   // RLO
  CHECK(display_escape("\xE2\x80\xAA\xE2\x80\xAB\xE2\x80\xAC\xE2\x80\xAD") == "\\u202a\\u202b\\u202c\\u202d");
  CHECK(display_escape("\xE2\x80\x8B\xE2\x80\x8C\xE2\x80\x8D\xE2\x80\x8E\xE2\x80\x8F") ==
        "\\u200b\\u200c\\u200d\\u200e\\u200f");
  CHECK(display_escape("\xE2\x81\xA0\xE2\x81\xA6\xE2\x81\xA7\xE2\x81\xA8\xE2\x81\xA9") ==
        "\\u2060\\u2066\\u2067\\u2068\\u2069");
  CHECK(display_escape("\xEF\xBB\xBFx") == "\\ufeffx");
  CHECK(display_escape("\xE2\x80\xA8\xE2\x80\xA9") == "\\u2028\\u2029");     // line/paragraph separators
  CHECK(display_escape("\xD8\x9C") == "\\u061c");                              // ARABIC LETTER MARK
  CHECK(display_escape("\xC2\xAD") == "\\u00ad");                              // soft hyphen
  CHECK(display_escape("rm\xC2\xA0-rf") == "rm\\u00a0-rf");                    // looks like a space
  CHECK(display_escape("\xE3\x80\x80") == "\\u3000");
  CHECK(display_escape("\xEF\xB8\x8F") == "\\ufe0f");                          // variation selector
  CHECK(display_escape("\xEF\xBF\xBE\xEF\xBF\xBF") == "\\ufffe\\uffff");       // noncharacters
  CHECK(display_escape("\xF3\xA0\x80\x81\xF3\xA0\x81\x81") == "\\U000e0001\\U000e0041");  // tag characters
  CHECK(display_escape("\xF0\x9D\x85\xB3") == "\\U0001d173");
}

TEST_CASE("display_escape: invalid UTF-8 becomes \\xNN per byte", "[display]") {
  CHECK(display_escape("a\x80z") == "a\\x80z");                   // stray continuation byte
  CHECK(display_escape("\xC0\xAF") == "\\xc0\\xaf");              // overlong '/'
  CHECK(display_escape("\xE0\x80\xAF") == "\\xe0\\x80\\xaf");     // overlong
  CHECK(display_escape("\xED\xA0\x80") == "\\xed\\xa0\\x80");     // surrogate U+D800
  CHECK(display_escape("\xF4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(display_escape("\xE2\x80") == "\\xe2\\x80");              // truncated at the end
  CHECK(display_escape("\xE2\x80x") == "\\xe2\\x80x");            // truncated in the middle
  CHECK(display_escape("\xFF\xFE") == "\\xff\\xfe");
  CHECK(display_escape("\x85") == "\\x85");                       // raw byte, not U+0085
}

TEST_CASE("display_escape_multiline keeps LF only", "[display]") {
  CHECK(display_escape_multiline("SELECT 1\nFROM t\r\n\x1b[2J") == "SELECT 1\nFROM t\\r\n\\x1b[2J");
  CHECK(display_escape_multiline("a\tb\\") == "a\\tb\\\\");
}

TEST_CASE("display_escape_truncated cuts visibly, never inside an escape", "[display]") {
  CHECK(display_escape_truncated("short", 10) == "short");
  CHECK(display_escape_truncated("0123456789", 10) == "0123456789");
  CHECK(display_escape_truncated("0123456789A", 10) == "0123456789… [11 bytes in all]");
  CHECK(display_escape_truncated("abc\x1b[K", 5) == "abc… [6 bytes in all]");  // "\x1b" does not fit whole
  CHECK(display_escape_truncated("日本語日本語", 4) == "日本語日… [18 bytes in all]");
  CHECK(display_escape_truncated("abc", 0) == "… [3 bytes in all]");
}
